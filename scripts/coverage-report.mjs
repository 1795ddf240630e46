#!/usr/bin/env node
/**
 * Prints per-file coverage of the control plane and the runtime from the json-summary that
 * `npm run test:coverage` writes (coverage/coverage-summary.json). Only code that runs in the
 * vitest workers is measured: cloud processes and `praas up` run from dist/ in subprocesses.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

const SUMMARY = path.resolve("coverage/coverage-summary.json");
const DIRS = ["src/control-plane/", "src/runtime/"];
const METRICS = ["lines", "statements", "functions", "branches"];

let summary;
try {
  summary = JSON.parse(readFileSync(SUMMARY, "utf8"));
} catch (error) {
  process.stderr.write(`coverage-report: cannot read ${SUMMARY}: ${error.message}\n`);
  process.exit(1);
}

const cell = (metric) => `${metric.pct.toFixed(1).padStart(6)}%`;
const rows = Object.entries(summary)
  .map(([file, totals]) => [path.relative(process.cwd(), file), totals])
  .filter(([file]) => DIRS.some((dir) => file.startsWith(dir)))
  .sort(([a], [b]) => a.localeCompare(b));

const width = Math.max(...rows.map(([file]) => file.length), 4);
process.stdout.write(`${"file".padEnd(width)}  ${METRICS.map((m) => m.padStart(10)).join(" ")}\n`);
for (const [file, totals] of rows) {
  const cells = METRICS.map((m) => cell(totals[m]).padStart(10)).join(" ");
  process.stdout.write(`${file.padEnd(width)}  ${cells}\n`);
}
const total = summary.total;
process.stdout.write(
  `${"all of src".padEnd(width)}  ${METRICS.map((m) => cell(total[m]).padStart(10)).join(" ")}\n`,
);
