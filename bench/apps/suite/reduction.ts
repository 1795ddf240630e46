// The paper's state reduction (§6.3): every call adds its float64 vector into an accumulator
// kept in process state (ours) or in Redis (GET, add, SET).
// Payload: u16 URL length, the URL (empty for ours), then the vector's bytes.
import type { Context } from "praas";
import { redisAt } from "./redis";

const ACCUMULATOR = "bench-accumulator";

interface Reduction {
  url: string;
  vector: Float64Array;
}

function decode(input: Uint8Array): Reduction {
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const urlLength = bytes.readUInt16LE(0);
  const url = bytes.toString("utf8", 2, 2 + urlLength);
  return { url, vector: float64s(bytes.subarray(2 + urlLength)) ?? new Float64Array(0) };
}

/** A float64 view of a copy (the bytes may not be 8-byte aligned). */
function float64s(bytes: Uint8Array | undefined | null): Float64Array | undefined {
  if (bytes === undefined || bytes === null) return undefined;
  const copy = bytes.slice();
  return new Float64Array(copy.buffer, 0, copy.byteLength / 8);
}

function add(accumulator: Float64Array | undefined, vector: Float64Array): Uint8Array {
  const sum = accumulator ?? new Float64Array(vector.length);
  for (let i = 0; i < vector.length; i++) sum[i] = (sum[i] ?? 0) + (vector[i] ?? 0);
  return new Uint8Array(sum.buffer, sum.byteOffset, sum.byteLength);
}

export async function reduceState(input: Uint8Array, ctx: Context): Promise<string> {
  const { vector } = decode(input);
  const sum = add(float64s(await ctx.state.get(ACCUMULATOR)), vector);
  await ctx.state.put(ACCUMULATOR, sum);
  return String(sum.length);
}

export async function reduceRedis(input: Uint8Array, ctx: Context): Promise<string> {
  const { url, vector } = decode(input);
  const redis = await redisAt(url);
  const key = `bench:reduce:${ctx.processId}`;
  const sum = add(float64s(await redis.getBuffer(key)), vector);
  await redis.set(key, Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength));
  return String(sum.length);
}

/** Drops both accumulators (between repetitions, untimed). */
export async function reduceReset(input: Uint8Array, ctx: Context): Promise<string> {
  const { url } = decode(input);
  await ctx.state.delete(ACCUMULATOR);
  if (url !== "") await (await redisAt(url)).del(`bench:reduce:${ctx.processId}`);
  return "reset";
}
