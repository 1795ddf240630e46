// Helpers shared by the benchmark functions: parameters in, timings (µs) out as raw float64s.

export interface Rounds {
  /** Payload or value size in bytes. */
  size: number;
  /** Timed rounds. */
  rounds: number;
  /** Untimed rounds first. */
  warmup: number;
}

export function parseJson<T>(input: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(input)) as T;
}

/** A payload of `size` bytes that is not all zeros. */
export function payloadOf(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) bytes[i] = i & 0xff;
  return bytes;
}

/** Runs `round` warmup+rounds times; returns the timed rounds' durations in µs, as bytes. */
export async function timeRounds(
  options: Rounds,
  round: (index: number) => Promise<void>,
  scale = 1,
): Promise<Uint8Array> {
  const samples = new Float64Array(options.rounds);
  for (let i = 0; i < options.warmup + options.rounds; i++) {
    const start = performance.now();
    await round(i);
    if (i >= options.warmup)
      samples[i - options.warmup] = (performance.now() - start) * 1000 * scale;
  }
  return new Uint8Array(samples.buffer);
}
