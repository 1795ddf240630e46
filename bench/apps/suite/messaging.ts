// The paper's IPC ping-pong between two processes: PraaS put/get versus Redis SET + polling GET.
// One-way latency = round trip / 2, timed by the sender.
import type { Context } from "praas";
import { pollTake, redisAt } from "./redis";
import { parseJson, payloadOf, timeRounds, type Rounds } from "./timing";

interface PingPong extends Rounds {
  peer: string;
  /** Distinguishes the keys of one run from another's. */
  tag: string;
  url?: string;
}

interface Serve {
  from: string;
  tag: string;
  rounds: number;
  url?: string;
}

/** Starts `pong` on the peer (not awaited), then plays ping-pong with it through the mailbox. */
export async function pingpong(input: Uint8Array, ctx: Context): Promise<Uint8Array> {
  const o = parseJson<PingPong>(input);
  const serve: Serve = { from: ctx.processId, tag: o.tag, rounds: o.warmup + o.rounds };
  const served = ctx.invoke("pong", serve, { process: o.peer });
  const payload = payloadOf(o.size);
  const samples = await timeRounds(
    o,
    async (i) => {
      await ctx.put(o.peer, `${o.tag}-ping-${i}`, payload);
      await ctx.get(o.peer, `${o.tag}-pong-${i}`);
    },
    0.5,
  );
  await served;
  return samples;
}

/** Answers every ping with the same bytes. */
export async function pong(input: Uint8Array, ctx: Context): Promise<string> {
  const o = parseJson<Serve>(input);
  for (let i = 0; i < o.rounds; i++) {
    const message = await ctx.get(o.from, `${o.tag}-ping-${i}`);
    await ctx.put(o.from, `${o.tag}-pong-${i}`, message);
  }
  return "served";
}

/** The same ping-pong through Redis: SET, then poll GET (GETDEL) for the reply. */
export async function redisPingpong(input: Uint8Array, ctx: Context): Promise<Uint8Array> {
  const o = parseJson<PingPong>(input);
  const redis = await redisAt(o.url ?? "");
  const serve: Serve = { from: ctx.processId, tag: o.tag, rounds: o.warmup + o.rounds, url: o.url };
  const served = ctx.invoke("redisPong", serve, { process: o.peer });
  const payload = Buffer.from(payloadOf(o.size));
  const samples = await timeRounds(
    o,
    async (i) => {
      await redis.set(`${o.tag}:ping:${i}`, payload);
      await pollTake(redis, `${o.tag}:pong:${i}`);
    },
    0.5,
  );
  await served;
  return samples;
}

export async function redisPong(input: Uint8Array): Promise<string> {
  const o = parseJson<Serve>(input);
  const redis = await redisAt(o.url ?? "");
  for (let i = 0; i < o.rounds; i++) {
    const message = await pollTake(redis, `${o.tag}:ping:${i}`);
    await redis.set(`${o.tag}:pong:${i}`, message);
  }
  return "served";
}
