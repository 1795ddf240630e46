// Local invocation: a function calling another function of its own process.
import type { Context } from "praas";
import { parseJson, payloadOf, timeRounds, type Rounds } from "./timing";

export function echo(input: Uint8Array): Uint8Array {
  return input;
}

/** Calls `echo` through `ctx.invoke` (this process) and times every call. */
export async function localLoop(input: Uint8Array, ctx: Context): Promise<Uint8Array> {
  const options = parseJson<Rounds>(input);
  const payload = payloadOf(options.size);
  return timeRounds(options, async () => {
    const output = await ctx.invoke("echo", payload);
    if (output.length !== payload.length) throw new Error(`echo returned ${output.length} bytes`);
  });
}
