/** What every experiment implements, and the shape of its results. */
import type { Environment } from "./environment.js";
import type { Machine } from "./machine.js";
import type { Mode, Plan } from "./plan.js";
import type { Stats } from "./stats.js";

export type Unit = "µs" | "ms" | "inv/s" | "MiB";

/** One side of a row, in the experiment's unit. For rates, `p99` is the slowest 1% of windows. */
export interface Metric {
  n: number;
  median: number;
  p99: number;
  mean: number;
}

export interface Row {
  /** What varies, e.g. `{ size: 1024 }` or `{ messages: 10, elements: 1000 }`. */
  params: Record<string, number>;
  label: string;
  ours: Metric;
  baseline: Metric;
  /** ours.median / baseline.median. */
  ratio: number;
  /** Further figures worth a column (e.g. swap-out and resume times, MB/s). */
  extra?: Record<string, number>;
  /** This row's unit when it differs from its experiment's (density: MiB and ms rows). */
  unit?: Unit;
}

/** A quality bar, checked against one row; undefined when it does not apply. */
export type Goal = (row: Row) => { target: string; met: boolean } | undefined;

export interface ExperimentInfo {
  name: string;
  title: string;
  ours: string;
  baseline: string;
  unit: Unit;
  /** Throughput: a ratio above 1 is good; everywhere else below 1 is. */
  higherIsBetter: boolean;
  /** Notes for the report: method details, caveats. */
  notes: string[];
}

export interface RunContext {
  env: Environment;
  plan: Plan;
  progress(message: string): void;
}

export interface Experiment extends ExperimentInfo {
  goal?: Goal;
  run(context: RunContext): Promise<Row[]>;
}

export interface ExperimentResult extends ExperimentInfo {
  rows: (Row & { goal?: { target: string; met: boolean } })[];
  seconds: number;
  error?: string;
  /** Why the experiment could not run on this machine (e.g. no Docker): no rows, no failure. */
  skipped?: string;
}

/** Everything one run wrote to `<date>.json`. */
export interface BenchResult {
  schema: 1;
  date: string;
  startedAt: string;
  mode: Mode;
  command: string;
  machine: Machine;
  seconds: number;
  experiments: ExperimentResult[];
}

/** Converts measured stats (µs) into a metric in `unit` (µs or ms). */
export function metricOf(stats: Stats, unit: Unit = "µs"): Metric {
  const scale = unit === "ms" ? 1 / 1000 : 1;
  const digits = unit === "ms" ? 3 : 1;
  return {
    n: stats.n,
    median: round(stats.medianUs * scale, digits),
    p99: round(stats.p99Us * scale, digits),
    mean: round(stats.meanUs * scale, digits),
  };
}

export function makeRow(
  params: Record<string, number>,
  label: string,
  ours: Metric,
  baseline: Metric,
  extra?: Record<string, number>,
): Row {
  const ratio = baseline.median > 0 ? round(ours.median / baseline.median, 3) : Number.NaN;
  return { params, label, ours, baseline, ratio, ...(extra ? { extra } : {}) };
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
