/** Throughput: `inflight` calls kept in flight for a fixed time, counted per 100 ms window. */
import { summarizeRates, type Stats } from "./stats.js";

const WINDOW_MS = 100;

/** Runs `call` with `inflight` concurrent lanes for `durationMs`; rates in calls per second. */
export async function measureRate(
  call: () => Promise<unknown>,
  options: { inflight: number; durationMs: number; warmupMs: number },
): Promise<Stats> {
  await runLanes(call, options.inflight, options.warmupMs);
  return summarizeCounts(await runLanes(call, options.inflight, options.durationMs), options);
}

async function runLanes(
  call: () => Promise<unknown>,
  inflight: number,
  durationMs: number,
): Promise<{ counts: number[]; elapsedMs: number }> {
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

function summarizeCounts(
  run: { counts: number[]; elapsedMs: number },
  options: { durationMs: number },
): Stats {
  const whole = Math.max(1, Math.floor(options.durationMs / WINDOW_MS));
  const rates = Array.from({ length: whole }, (_, i) => ((run.counts[i] ?? 0) * 1000) / WINDOW_MS);
  const total = run.counts.reduce((sum, count) => sum + (count ?? 0), 0);
  return summarizeRates(rates, (total * 1000) / run.elapsedMs);
}
