// The smallest application: the echo function every invocation benchmark calls.

/** Returns its input unchanged (the same bytes, no copy). */
export function echo(input: Uint8Array): Uint8Array {
  return input;
}
