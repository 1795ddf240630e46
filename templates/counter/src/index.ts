// A counter kept in process state: it survives invocations and swaps.
import type { Context } from "praas";

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Adds the number in the payload (default 1) to the counter and returns the new value. */
export async function add(input: Uint8Array, ctx: Context): Promise<number> {
  // One atomic step in the process: concurrent adds never lose an update.
  return ctx.state.increment("count", Number(text(input) || "1"));
}

/** Returns the counter. */
export async function get(_input: Uint8Array, ctx: Context): Promise<string> {
  const bytes = await ctx.state.get("count");
  return bytes ? text(bytes) : "0";
}
