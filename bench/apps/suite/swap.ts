// Swap: fill the process state with `mib` values of 1 MiB, and check them after a resume.
import type { Context } from "praas";
import { parseJson, payloadOf } from "./timing";

const MIB = 1024 * 1024;

export async function fill(input: Uint8Array, ctx: Context): Promise<string> {
  const { mib } = parseJson<{ mib: number }>(input);
  const chunk = payloadOf(MIB);
  for (let i = 0; i < mib; i++) {
    chunk[1] = i & 0xff;
    await ctx.state.put(`blob-${i}`, chunk);
  }
  return String(mib * MIB);
}

/** The number of state keys and the size of the last one. */
export async function inspect(_input: Uint8Array, ctx: Context): Promise<object> {
  const keys = await ctx.state.keys();
  const last = keys.at(-1);
  const bytes = last === undefined ? undefined : await ctx.state.get(last.key);
  return { keys: keys.length, lastBytes: bytes?.length ?? 0 };
}
