// State access from a function: process state versus Redis, one put + get pair per round.
import type { Context } from "praas";
import { redisAt } from "./redis";
import { parseJson, payloadOf, timeRounds, type Rounds } from "./timing";

interface StateRounds extends Rounds {
  url?: string;
}

/** `state.put` then `state.get` of the same key, timed per pair. */
export async function stateOps(input: Uint8Array, ctx: Context): Promise<Uint8Array> {
  const options = parseJson<StateRounds>(input);
  const value = payloadOf(options.size);
  return timeRounds(options, async () => {
    await ctx.state.put("bench-value", value);
    const read = await ctx.state.get("bench-value");
    if (read?.length !== value.length) throw new Error("state read back the wrong size");
  });
}

/** Redis `SET` then `GET` of the same key, timed per pair. */
export async function redisOps(input: Uint8Array, ctx: Context): Promise<Uint8Array> {
  const options = parseJson<StateRounds>(input);
  const redis = await redisAt(options.url ?? "");
  const value = Buffer.from(payloadOf(options.size));
  const key = `bench:state:${ctx.processId}`;
  return timeRounds(options, async () => {
    await redis.set(key, value);
    const read = await redis.getBuffer(key);
    if (read?.length !== value.length) throw new Error("redis read back the wrong size");
  });
}
