/**
 * Invocation rate and mean latency from the cumulative counters of `GET /apps/:app/metrics`:
 * the page keeps the reads of the last minutes and takes differences between them.
 */
import type { AppMetricsSummary } from "../protocol/api.js";

/** How far back the charts look. */
export const WINDOW_MS = 5 * 60_000;
/** The table's "calls/s" is over this much of the most recent reads. */
const RECENT_MS = 10_000;

/** One read: total invocations and latency seconds, per process. */
export interface Sample {
  at: number;
  byProcess: Map<string, { count: number; seconds: number }>;
}

export function toSample(summary: AppMetricsSummary): Sample {
  const byProcess = new Map<string, { count: number; seconds: number }>();
  for (const row of summary.processes) {
    const count = row.functions.reduce((sum, fn) => sum + fn.count, 0);
    const seconds = row.functions.reduce((sum, fn) => sum + fn.latencySumSeconds, 0);
    byProcess.set(row.process, { count, seconds });
  }
  return { at: summary.at, byProcess };
}

/** The samples with `next` added and those older than the window dropped. */
export function addSample(samples: readonly Sample[], next: Sample): Sample[] {
  return [...samples, next].filter((sample) => next.at - sample.at <= WINDOW_MS);
}

function totals(sample: Sample, process?: string): { count: number; seconds: number } {
  if (process !== undefined) return sample.byProcess.get(process) ?? { count: 0, seconds: 0 };
  let count = 0;
  let seconds = 0;
  for (const row of sample.byProcess.values()) {
    count += row.count;
    seconds += row.seconds;
  }
  return { count, seconds };
}

/** Calls per second of one process (or the whole app) over the last few seconds read. */
export function recentRate(samples: readonly Sample[], process?: string): number {
  const last = samples.at(-1);
  const first = samples.find((sample) => last !== undefined && last.at - sample.at <= RECENT_MS);
  if (!last || !first || last.at === first.at) return 0;
  const calls = totals(last, process).count - totals(first, process).count;
  return Math.max(0, calls) / ((last.at - first.at) / 1000);
}

/** Chart points are averaged over this much, smoothing the processes' one-second reports. */
const SMOOTH_MS = 5_000;

/** Chart series: times (s), calls/s and mean latency (ms, null when nothing ran) per point. */
export function series(samples: readonly Sample[]): [number[], number[], (number | null)[]] {
  const times: number[] = [];
  const rates: number[] = [];
  const latencies: (number | null)[] = [];
  samples.forEach((after, i) => {
    const before = samples.find((s, j) => j < i && after.at - s.at <= SMOOTH_MS);
    if (!before || after.at === before.at) return;
    const [a, b] = [totals(before), totals(after)];
    const calls = Math.max(0, b.count - a.count);
    times.push(after.at / 1000);
    rates.push(calls / ((after.at - before.at) / 1000));
    latencies.push(calls > 0 ? ((b.seconds - a.seconds) / calls) * 1000 : null);
  });
  return [times, rates, latencies];
}
