/**
 * `npm run bench`: runs the experiments against their same-run baselines and writes
 * `bench/results/<date>.{json,md}`, one SVG per experiment and `latest.md`. Progress goes to
 * stderr. Everything started is stopped on exit, on error and on SIGINT/SIGTERM.
 */
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
  let env: Environment | undefined;
  stopOnSignals(() => env);
  const result = await runBench({ ...options, onEnvironment: (created) => (env = created) });
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
