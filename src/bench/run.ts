/** A benchmark run: the selected experiments one after another, then the report files. */
import { Environment } from "./environment.js";
import type { BenchResult, Experiment, ExperimentResult, Row } from "./experiment.js";
import { selectExperiments } from "./experiments/index.js";
import { describeMachine } from "./machine.js";
import { planFor, type Mode, type Plan } from "./plan.js";
import { SkippedExperiment } from "./skipped.js";
import { progress } from "./progress.js";
import { writeReports } from "./report/write.js";

export interface BenchOptions {
  mode: Mode;
  /** Experiment names; all when undefined. */
  only?: string[];
  outDir: string;
  /** Caps the density experiment's active processes (--density-max). */
  densityMax?: number;
  /** Called once the environment exists, so a signal handler can close it. */
  onEnvironment?(env: Environment): void;
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const experiments = selectExperiments(options.only);
  const startedAt = new Date();
  const machine = describeMachine(); // now: its load average says how quiet the machine was
  const env = await Environment.create();
  options.onEnvironment?.(env);
  const results: ExperimentResult[] = [];
  const plan = planFor(options.mode, options.densityMax);
  try {
    for (const experiment of experiments) results.push(await runOne(experiment, env, plan));
  } finally {
    await env.close();
  }
  const result = resultOf(options, { startedAt, machine }, results);
  await writeReports(result, options.outDir);
  return result;
}

async function runOne(
  experiment: Experiment,
  env: Environment,
  plan: Plan,
): Promise<ExperimentResult> {
  const started = performance.now();
  const say = (message: string): void => progress(`${experiment.name}: ${message}`);
  say("starting");
  let rows: Row[] = [];
  let error: string | undefined;
  try {
    rows = await experiment.run({ env, plan, progress: say });
  } catch (caught) {
    if (caught instanceof SkippedExperiment) {
      say(`skipped: ${caught.message}`);
      return { ...infoOf(experiment), rows: [], seconds: 0, skipped: caught.message };
    }
    error = caught instanceof Error ? (caught.stack ?? caught.message) : String(caught);
    say(`FAILED: ${error}`);
  } finally {
    await env.endExperiment();
  }
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  say(`done in ${seconds} s`);
  return {
    ...infoOf(experiment),
    rows: rows.map((row) => withGoal(experiment, row)),
    seconds,
    ...(error ? { error } : {}),
  };
}

function infoOf(e: Experiment): Omit<ExperimentResult, "rows" | "seconds"> {
  const { name, title, ours, baseline, unit, higherIsBetter, notes } = e;
  return { name, title, ours, baseline, unit, higherIsBetter, notes };
}

function withGoal(experiment: Experiment, row: Row): ExperimentResult["rows"][number] {
  const goal = experiment.goal?.(row);
  return goal ? { ...row, goal } : row;
}

function resultOf(
  options: BenchOptions,
  { startedAt, machine }: { startedAt: Date; machine: BenchResult["machine"] },
  experiments: ExperimentResult[],
): BenchResult {
  return {
    schema: 1,
    date: startedAt.toISOString().slice(0, 10),
    startedAt: startedAt.toISOString(),
    mode: options.mode,
    command: commandOf(options),
    machine,
    seconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    experiments,
  };
}

function commandOf(options: BenchOptions): string {
  const flags: string[] = [];
  if (options.mode !== "full") flags.push(`--${options.mode}`);
  if (options.only) flags.push(`--only ${options.only.join(",")}`);
  if (options.densityMax !== undefined) flags.push(`--density-max ${options.densityMax}`);
  return flags.length === 0 ? "npm run bench" : `npm run bench -- ${flags.join(" ")}`;
}
