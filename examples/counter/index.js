// A counter kept in process state: it survives invocations and swaps.
const text = (bytes) => new TextDecoder().decode(bytes ?? new Uint8Array());

/**
 * Adds the number in the payload to the counter; returns the new value. `increment` is one
 * atomic step in the process, so concurrent adds on any number of workers never lose an update
 * (a get followed by a put would: two invocations can read the same value).
 */
export async function add(input, ctx) {
  return ctx.state.increment("count", Number(text(input) || "1"));
}

export async function get(_input, ctx) {
  return text(await ctx.state.get("count")) || "0";
}

export async function reset(_input, ctx) {
  await ctx.state.delete("count");
  return "0";
}
