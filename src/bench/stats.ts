/** Timing helpers: run an async operation repeatedly, report median and p99 in microseconds. */
export interface Stats {
  n: number;
  medianUs: number;
  p99Us: number;
  meanUs: number;
}

export async function measure(
  operation: () => Promise<unknown>,
  options: { warmup: number; iterations: number },
): Promise<Stats> {
  return summarize(await sample(operation, options));
}

/** The durations (µs) of `iterations` runs of `operation`, after `warmup` untimed runs. */
export async function sample(
  operation: () => Promise<unknown>,
  options: { warmup: number; iterations: number },
): Promise<Float64Array> {
  for (let i = 0; i < options.warmup; i++) await operation();
  const samples = new Float64Array(options.iterations);
  for (let i = 0; i < options.iterations; i++) samples[i] = await timeOnce(operation);
  return samples;
}

/** How long one run of `operation` took, in µs. */
export async function timeOnce(operation: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await operation();
  return Number(process.hrtime.bigint() - start) / 1000;
}

export function summarize(samples: Float64Array): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const mean = sorted.reduce((sum, v) => sum + v, 0) / Math.max(1, sorted.length);
  return {
    n: sorted.length,
    medianUs: round(at(0.5)),
    p99Us: round(at(0.99)),
    meanUs: round(mean),
  };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Timings a benchmark function returned as raw float64 bytes (copied: they may be unaligned). */
export function samplesFromBytes(bytes: Uint8Array): Float64Array {
  const copy = new Uint8Array(bytes);
  return new Float64Array(copy.buffer, 0, Math.floor(copy.byteLength / 8));
}

/** Rates per window: median, and as "p99" the slowest 1% of windows; mean over the whole run. */
export function summarizeRates(rates: number[], overall: number): Stats {
  const sorted = [...rates].sort((a, b) => a - b);
  const low = sorted[Math.floor(0.01 * sorted.length)] ?? 0;
  const median = sorted[Math.floor(0.5 * sorted.length)] ?? 0;
  return { n: sorted.length, medianUs: round(median), p99Us: round(low), meanUs: round(overall) };
}
