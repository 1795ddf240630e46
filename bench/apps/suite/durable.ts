// Durable puts: `writers` concurrent loops of state puts (a `log` process: each resolves once on
// disk) or of Redis SETs (a redis-server with appendfsync always), and filling many keys.
import type { Context } from "praas";
import { redisAt } from "./redis";
import { parseJson, payloadOf } from "./timing";

interface WriterRounds {
  size: number;
  /** Puts per writer, timed. */
  rounds: number;
  /** Untimed puts per writer first. */
  warmup: number;
  writers: number;
  /** Redis instead of process state. */
  url?: string;
}

type Put = (key: string) => Promise<unknown>;

async function putter(options: WriterRounds, ctx: Context): Promise<Put> {
  const value = payloadOf(options.size);
  if (options.url === undefined) return (key) => ctx.state.put(key, value);
  const redis = await redisAt(options.url);
  const bytes = Buffer.from(value);
  return (key) => redis.set(`bench:durable:${ctx.processId}:${key}`, bytes);
}

/**
 * Every put's latency (µs, writer after writer), then as the last float64 the wall time (µs) of
 * the timed part: puts/s = writers × rounds / wall time.
 */
export async function durablePuts(input: Uint8Array, ctx: Context): Promise<Uint8Array> {
  const options = parseJson<WriterRounds>(input);
  const put = await putter(options, ctx);
  const writers = Array.from({ length: options.writers }, (_, w) => w);
  await Promise.all(
    writers.map(async (w) => {
      for (let i = 0; i < options.warmup; i++) await put(`w${w}`);
    }),
  );
  const samples = new Float64Array(options.writers * options.rounds + 1);
  const start = performance.now();
  await Promise.all(
    writers.map(async (w) => {
      for (let i = 0; i < options.rounds; i++) {
        const begun = performance.now();
        await put(`w${w}`);
        samples[w * options.rounds + i] = (performance.now() - begun) * 1000;
      }
    }),
  );
  samples[samples.length - 1] = (performance.now() - start) * 1000;
  return new Uint8Array(samples.buffer);
}

/** `keys` values of `size` bytes, written by `writers` concurrent loops; resolves the key count. */
export async function fillKeys(input: Uint8Array, ctx: Context): Promise<string> {
  const { keys, size, writers } = parseJson<{ keys: number; size: number; writers: number }>(input);
  const value = payloadOf(size);
  let next = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = next++; i < keys; i = next++) await ctx.state.put(`key-${i}`, value);
    }),
  );
  return String((await ctx.state.keys()).length);
}

export async function countKeys(_input: Uint8Array, ctx: Context): Promise<string> {
  return String((await ctx.state.keys()).length);
}

/** The pid of the cloud process (this worker's parent), for the bench to SIGKILL it. */
export function parentPid(): string {
  return String(process.ppid);
}
