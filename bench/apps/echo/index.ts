// The smallest application: the echo function every invocation benchmark calls, and the state
// filler the swap and resume experiments use (no extra permissions, so its processes fit the
// warm pool).
export { fill, inspect } from "../suite/swap";

/** Returns its input unchanged (the same bytes, no copy). */
export function echo(input: Uint8Array): Uint8Array {
  return input;
}
