// A counter kept in process state: it survives invocations and swaps.
const text = (bytes) => new TextDecoder().decode(bytes ?? new Uint8Array());

/** Adds the number in the payload to the counter; returns the new value. */
export async function add(input, ctx) {
  const current = Number(text(await ctx.state.get("count")) || "0");
  const next = current + Number(text(input) || "1");
  await ctx.state.put("count", String(next));
  return String(next);
}

export async function get(_input, ctx) {
  return text(await ctx.state.get("count")) || "0";
}

export async function reset(_input, ctx) {
  await ctx.state.delete("count");
  return "0";
}
