/**
 * `npm run bench`: runs the experiments against their same-run baselines and writes
 * `bench/results/<date>.{json,md}`, one SVG per experiment and `latest.md`. Progress goes to
 * stderr; a comparison with an earlier result (`--compare`, `--compare-only`) to stdout.
 * Everything started is stopped on exit, on error and on SIGINT/SIGTERM.
 */
import { compareResults, renderComparison, type ComparableResult } from "./compare/compare.js";
import { lastResult, loadResultFile, type Reference } from "./compare/reference.js";
import type { Environment } from "./environment.js";
import { selectExperiments } from "./experiments/index.js";
import { USAGE, parseCli, type CliOptions } from "./options.js";
import { runBench } from "./run.js";

function stopOnSignals(getEnv: () => Environment | undefined): void {
  const stop = (signal: NodeJS.Signals): void => {
    process.stderr.write(`[bench] ${signal}: stopping everything\n`);
    const env = getEnv();
    void (env ? env.close() : Promise.resolve()).finally(() => process.exit(130));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

function printComparison(before: Reference, after: ComparableResult, tolerance: number): void {
  const rows = compareResults(before.result, after, tolerance);
  process.stdout.write(renderComparison(rows, before, after, tolerance));
}

/** `--compare-only BEFORE AFTER`: no run. */
async function compareOnly([before, after]: [string, string], tolerance: number): Promise<number> {
  const [earlier, later] = await Promise.all([loadResultFile(before), loadResultFile(after)]);
  printComparison(earlier, later.result, tolerance);
  return 0;
}

/** The result `--compare` will read, loaded before the run may overwrite it. */
async function referenceFor(options: CliOptions): Promise<Reference | undefined> {
  if (options.compare === undefined) return undefined;
  const reference = await (options.compare.file === undefined
    ? lastResult()
    : loadResultFile(options.compare.file));
  if (reference === undefined) process.stderr.write("[bench] --compare: no earlier result found\n");
  return reference;
}

async function main(argv: string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCli(argv);
    selectExperiments(options.only);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stderr.write(USAGE);
    return 0;
  }
  if (options.compareOnly) return compareOnly(options.compareOnly, options.tolerance);
  const reference = await referenceFor(options);
  let env: Environment | undefined;
  stopOnSignals(() => env);
  const result = await runBench({ ...options, onEnvironment: (created) => (env = created) });
  if (reference !== undefined) printComparison(reference, result, options.tolerance);
  return result.experiments.some((e) => e.error !== undefined) ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
