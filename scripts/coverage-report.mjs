#!/usr/bin/env node
/**
 * Line coverage of the control plane and the runtime, counting code wherever it ran.
 *
 * vitest measures the code that runs in its own workers (coverage/coverage-final.json). Much of
 * the platform runs in processes the tests start (`praas up`, cloud processes): they record V8
 * coverage of dist/ into coverage-subprocess/ (test/global-setup.ts). This script merges the
 * two: a line counts as covered when vitest saw it run or a subprocess ran the compiled code
 * mapped to it. vitest's statements decide which lines count, so both sources are measured
 * against the same lines.
 *
 * Workers run under Node's permission model, which disables V8 coverage: their entry module is
 * listed as unmeasured (not hidden), and their logic (worker/serve.ts) is tested in-process.
 *
 * Prints a per-file table and fails when a file under the checked folders is below the
 * threshold: `node scripts/coverage-report.mjs [--min 80]`.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { mergeProcessCovs } from "@bcoe/v8-coverage";
import libCoverage from "istanbul-lib-coverage";
import v8ToIstanbul from "v8-to-istanbul";

const ROOT = process.cwd();
const VITEST_REPORT = path.join(ROOT, "coverage/coverage-final.json");
const SUBPROCESS_DIR = path.join(ROOT, "coverage-subprocess");
const DIST_URL = `${pathToFileURL(path.join(ROOT, "dist")).href}/`;
const CHECKED = ["src/control-plane/", "src/runtime/"];
/** Files no process can measure, with the reason printed in the table instead of a figure. */
const UNMEASURABLE = new Map([
  ["src/runtime/worker/main.ts", "runs only in sandboxed workers (no V8 coverage there)"],
]);
const minIndex = process.argv.indexOf("--min");
const MIN_PCT = minIndex > 0 ? Number(process.argv[minIndex + 1]) : 0;

const vitest = libCoverage.createCoverageMap(readJson(VITEST_REPORT));
const ranElsewhere = await subprocessLines();
const rows = vitest
  .files()
  .map((file) => row(file, vitest.fileCoverageFor(file)))
  .filter((r) => CHECKED.some((dir) => r.file.startsWith(dir)))
  .sort((a, b) => a.file.localeCompare(b.file));
printTable(rows);
const low = rows.filter((r) => r.pct < MIN_PCT && !UNMEASURABLE.has(r.file));
if (low.length > 0) {
  process.stderr.write(`coverage below ${MIN_PCT}%: ${low.map((r) => r.file).join(", ")}\n`);
  process.exit(1);
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    process.stderr.write(`coverage-report: cannot read ${file}: ${error.message}\n`);
    process.exit(1);
  }
}

/** One row: the lines vitest counts in `file`, and how many of them ran anywhere. */
function row(absolute, coverage) {
  const file = path.relative(ROOT, absolute);
  const lines = coverage.getLineCoverage();
  const elsewhere = ranElsewhere.get(absolute) ?? new Set();
  const numbers = Object.keys(lines);
  const covered = numbers.filter((n) => lines[n] > 0 || elsewhere.has(Number(n))).length;
  const inProcess = numbers.filter((n) => lines[n] > 0).length;
  const pct = numbers.length === 0 ? 100 : (100 * covered) / numbers.length;
  return { file, total: numbers.length, covered, inProcess, pct };
}

/** Source file → the line numbers that ran in some subprocess. */
async function subprocessLines() {
  const merged = mergedSubprocessCoverage();
  const lines = new Map();
  for (const script of merged.result) {
    const converter = v8ToIstanbul(fileURLToPath(script.url));
    await converter.load();
    converter.applyCoverage(script.functions);
    const map = libCoverage.createCoverageMap(converter.toIstanbul());
    for (const file of map.files()) addRanLines(lines, file, map.fileCoverageFor(file));
    converter.destroy();
  }
  return lines;
}

function addRanLines(lines, file, coverage) {
  const ran = lines.get(file) ?? new Set();
  for (const [line, count] of Object.entries(coverage.getLineCoverage())) {
    if (count > 0) ran.add(Number(line));
  }
  lines.set(file, ran);
}

/** Every subprocess profile, reduced to our compiled code and merged into one. */
function mergedSubprocessCoverage() {
  let merged = { result: [] };
  if (!existsSync(SUBPROCESS_DIR)) return merged;
  for (const file of profiles(SUBPROCESS_DIR)) {
    const profile = parseProfile(file);
    if (profile === undefined) continue;
    const ours = profile.result.filter((script) => script.url.startsWith(DIST_URL));
    if (ours.length > 0) merged = mergeProcessCovs([merged, { result: ours }]);
  }
  return merged;
}

function profiles(dir) {
  return readdirSync(dir, { recursive: true })
    .filter((name) => name.endsWith(".json"))
    .map((name) => path.join(dir, name));
}

// A process killed while writing its profile leaves a partial file: skip it, count the rest.
function parseProfile(file) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

function printTable(rows) {
  const width = Math.max(...rows.map((r) => r.file.length), 4);
  const header = ["lines", "in vitest", "anywhere", "of"].map((h) => h.padStart(10)).join("");
  process.stdout.write(`${"file".padEnd(width)}  ${header}\n`);
  for (const r of rows) {
    if (UNMEASURABLE.has(r.file)) {
      process.stdout.write(`${r.file.padEnd(width)}  not measured: ${UNMEASURABLE.get(r.file)}\n`);
      continue;
    }
    const inProcess = `${((100 * r.inProcess) / Math.max(r.total, 1)).toFixed(1)}%`;
    const cells = [`${r.pct.toFixed(1)}%`, inProcess, String(r.covered), String(r.total)];
    process.stdout.write(`${r.file.padEnd(width)}  ${cells.map((c) => c.padStart(10)).join("")}\n`);
  }
}
