/**
 * `npm run soak`: fault injection against a real `praas up` with Redis; writes
 * `soak/results/<date>.{json,md}` and exits non-zero when an invariant fails. Progress goes to
 * stderr.
 */
import { CommanderError } from "commander";
import { parseCli, type SoakOptions } from "./options.js";
import { writeReports } from "./report.js";
import { runSoak } from "./run.js";

function progress(line: string): void {
  process.stderr.write(`[soak] ${line}\n`);
}

async function main(argv: string[]): Promise<number> {
  let options: SoakOptions;
  try {
    options = parseCli(argv, process.env);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  const result = await runSoak(options, progress);
  const base = await writeReports(result, options.outDir);
  for (const check of result.invariants) {
    progress(`${check.ok ? "ok  " : "FAIL"} ${check.name}: ${check.detail}`);
  }
  progress(`wrote ${base}.json and ${base}.md: ${result.passed ? "passed" : "FAILED"}`);
  return result.passed ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
