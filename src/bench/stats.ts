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
  for (let i = 0; i < options.warmup; i++) await operation();
  const samples = new Float64Array(options.iterations);
  for (let i = 0; i < options.iterations; i++) {
    const start = process.hrtime.bigint();
    await operation();
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return summarize(samples);
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
