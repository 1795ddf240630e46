/** Throughput: `inflight` calls kept in flight for a fixed time, counted per 100 ms window. */
import { summarizeRates, type Stats } from "./stats.js";

const WINDOW_MS = 100;
/** The shortest slice a side runs for when the two alternate (enough windows to mean a rate). */
const MIN_SLICE_MS = 500;
const SLICES = 5;

export interface RateOptions {
  inflight: number;
  /** Each side's timed total. */
  durationMs: number;
  warmupMs: number;
}

interface LaneRun {
  counts: number[];
  elapsedMs: number;
}

/**
 * Both sides, warmed up, then timed in alternating slices of the duration (five when it is long
 * enough): a drift of the machine's speed during the run falls on both alike, instead of on
 * whichever side ran in the slower half. Rates in calls per second.
 */
export async function measureRates(
  ours: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
  options: RateOptions,
): Promise<{ ours: Stats; baseline: Stats }> {
  const { inflight, durationMs, warmupMs } = options;
  await runLanes(ours, inflight, warmupMs);
  await runLanes(baseline, inflight, warmupMs);
  const slices = durationMs >= SLICES * MIN_SLICE_MS ? SLICES : 1;
  const sliceMs = durationMs / slices;
  const runs = { ours: [] as LaneRun[], baseline: [] as LaneRun[] };
  for (let slice = 0; slice < slices; slice++) {
    runs.ours.push(await runLanes(ours, inflight, sliceMs));
    runs.baseline.push(await runLanes(baseline, inflight, sliceMs));
  }
  return {
    ours: summarizeRuns(runs.ours, sliceMs),
    baseline: summarizeRuns(runs.baseline, sliceMs),
  };
}

async function runLanes(
  call: () => Promise<unknown>,
  inflight: number,
  durationMs: number,
): Promise<LaneRun> {
  const counts: number[] = [];
  const start = performance.now();
  const end = start + durationMs;
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      await call();
      const window = Math.floor((performance.now() - start) / WINDOW_MS);
      counts[window] = (counts[window] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  return { counts, elapsedMs: performance.now() - start };
}

/** The whole windows of every run, and the overall rate of all of them together. */
function summarizeRuns(runs: LaneRun[], durationMs: number): Stats {
  const whole = Math.max(1, Math.floor(durationMs / WINDOW_MS));
  const rates = runs.flatMap((run) =>
    Array.from({ length: whole }, (_, i) => ((run.counts[i] ?? 0) * 1000) / WINDOW_MS),
  );
  let total = 0;
  let elapsedMs = 0;
  for (const run of runs) {
    total += run.counts.reduce((sum, count) => sum + (count ?? 0), 0);
    elapsedMs += run.elapsedMs;
  }
  return summarizeRates(rates, (total * 1000) / elapsedMs);
}
