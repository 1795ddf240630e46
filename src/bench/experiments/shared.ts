/**
 * Pieces every size-sweep experiment uses: payloads, timing on either side, and one row per
 * size. Ours and the baseline are measured in alternating chunks, so a noisy neighbour or a
 * slow minute hits both sides alike.
 */
import { randomFillSync } from "node:crypto";
import type { ControlPlane } from "../../control-plane/control-plane.js";
import type { ProcessConnection } from "../../sdk/index.js";
import { makeRow, metricOf, type Row, type RunContext, type Unit } from "../experiment.js";
import { sizeLabel, warmupFor } from "../plan.js";
import { sample, samplesFromBytes, summarize, timeOnce, type Stats } from "../stats.js";

/** Durations (µs) of `rounds` timed repetitions at `size`, after `warmup` untimed ones. */
export type Side = (size: number, rounds: number, warmup: number) => Promise<Float64Array>;

export interface Sides {
  ours: Side;
  baseline: Side;
}

/** Chunks per side and size once there are enough iterations. */
const CHUNKS = 5;

export function payloadOf(size: number): Buffer {
  return randomFillSync(Buffer.allocUnsafe(size));
}

/** Measures ours and the baseline at every size; one row per size. */
export async function sweep(
  context: RunContext,
  sizes: number[],
  sides: Sides,
  unit: Unit = "µs",
): Promise<Row[]> {
  const rows: Row[] = [];
  const first = sizes[0] ?? 0;
  await warmUp(sides, first, context.plan.iterations(first), context.plan.warmupMs);
  for (const size of sizes) {
    context.progress(sizeLabel(size));
    const { ours, baseline } = await interleaved(sides, size, context.plan.iterations(size));
    rows.push(makeRow({ size }, sizeLabel(size), metricOf(ours, unit), metricOf(baseline, unit)));
  }
  return rows;
}

/**
 * A longer first warm-up, so that the first size does not pay for JIT tiering and caches:
 * each side runs `rounds` untimed rounds at a time until `ms` have passed (at least once).
 */
async function warmUp(sides: Sides, size: number, rounds: number, ms: number): Promise<void> {
  for (const side of [sides.ours, sides.baseline]) {
    const until = performance.now() + ms;
    do await side(size, 0, rounds);
    while (performance.now() < until);
  }
}

/** Warms both sides up, then alternates chunks of timed rounds between them. */
async function interleaved(
  sides: Sides,
  size: number,
  iterations: number,
): Promise<{ ours: Stats; baseline: Stats }> {
  await sides.ours(size, 0, warmupFor(iterations));
  await sides.baseline(size, 0, warmupFor(iterations));
  const chunks = iterations >= 10 * CHUNKS ? CHUNKS : 1;
  const rounds = Math.ceil(iterations / chunks);
  const ours: Float64Array[] = [];
  const baseline: Float64Array[] = [];
  for (let i = 0; i < chunks; i++) {
    ours.push(await sides.ours(size, rounds, 0));
    baseline.push(await sides.baseline(size, rounds, 0));
  }
  return { ours: summarize(concat(ours)), baseline: summarize(concat(baseline)) };
}

function concat(parts: Float64Array[]): Float64Array {
  return Float64Array.from(parts.flatMap((part) => [...part]));
}

/** Timed in the bench process: `operation` repeated on one payload of the size. */
export function clientSide(operation: (payload: Buffer) => Promise<unknown>): Side {
  return (size, iterations, warmup) => {
    const payload = payloadOf(size);
    return sample(() => operation(payload), { warmup, iterations });
  };
}

/**
 * Timed inside a benchmark function, which returns its samples (µs) as float64 bytes. Every
 * call warms up at least one round (e.g. the messaging responder starts in it).
 */
export function functionSide(
  connection: ProcessConnection,
  fn: string,
  extra: () => Record<string, unknown> = () => ({}),
): Side {
  return async (size, rounds, warmup) => {
    const input = { size, rounds, warmup: Math.max(1, warmup), ...extra() };
    return samplesFromBytes(await connection.invoke(fn, input));
  };
}

type Operation = (payload: Buffer) => Promise<unknown>;

/** A side made of two operations in sequence, whose parts are reported too. */
export interface SummedSide {
  side: Side;
  /** The timed durations (µs) of each part at `size`, in run order. */
  parts(size: number): [Stats, Stats];
}

/**
 * Times `first` then `second` on the same payload in every round; a sample is their sum (a
 * baseline made of two hops, e.g. HTTP in front of TCP), and each part is kept for the report.
 */
export function summedSide(first: Operation, second: Operation): SummedSide {
  const kept = new Map<number, [number[], number[]]>();
  const side: Side = async (size, rounds, warmup) => {
    const payload = payloadOf(size);
    for (let i = 0; i < warmup; i++) {
      await first(payload);
      await second(payload);
    }
    const parts = kept.get(size) ?? [[], []];
    kept.set(size, parts);
    const sums = new Float64Array(rounds);
    for (let i = 0; i < rounds; i++) {
      const [a, b] = [await timeOnce(() => first(payload)), await timeOnce(() => second(payload))];
      parts[0].push(a);
      parts[1].push(b);
      sums[i] = a + b;
    }
    return sums;
  };
  const stats = (values: number[] | undefined): Stats => summarize(Float64Array.from(values ?? []));
  return { side, parts: (size) => [stats(kept.get(size)?.[0]), stats(kept.get(size)?.[1])] };
}

/** The same payload came back. */
export function expectLength(output: Uint8Array, payload: Uint8Array): void {
  if (output.length !== payload.length) {
    throw new Error(`echo returned ${output.length} bytes for ${payload.length}`);
  }
}

/** How long a refill of the pool may take before a start is measured anyway. */
const REFILL_WAIT_MS = 30_000;

/**
 * The pool full again (refilled after the last take), so that neither our start nor the
 * baseline's shares the CPU with a refill.
 */
export async function poolRefilled(plane: ControlPlane): Promise<void> {
  const deadline = Date.now() + REFILL_WAIT_MS;
  const full = (): boolean => {
    const pool = plane.warmPool;
    return pool === undefined || pool.idle >= pool.size;
  };
  while (!full() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}
