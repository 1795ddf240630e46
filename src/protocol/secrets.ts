/** Comparing tokens and secrets without leaking, through timing, how much of a guess was right. */
import { timingSafeEqual } from "node:crypto";

export function secretsEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
