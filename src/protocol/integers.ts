/**
 * The one way text becomes an integer (CLI flags, runtime flags, registration fields): decimal
 * digits only, so "", " 8", "1e3", "0x10" and "12abc" are all refused rather than read as
 * whatever `Number()` makes of them.
 */
import { PraaSError } from "./errors.js";

const DECIMAL = /^-?\d+$/;

/** `text` as an integer in [min, max]; BAD_REQUEST naming `what` otherwise. */
export function parseInteger(
  text: string,
  what: string,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const value = DECIMAL.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new PraaSError("BAD_REQUEST", `${what} must be ${range(min, max)}, got "${text}"`);
  }
  return value;
}

function range(min: number, max: number): string {
  if (max !== Number.MAX_SAFE_INTEGER) return `an integer in [${min}, ${max}]`;
  if (min === 1) return "a positive integer";
  if (min === 0) return "a non-negative integer";
  return min === Number.MIN_SAFE_INTEGER ? "an integer" : `an integer of at least ${min}`;
}

export const MAX_PORT = 65_535;

/** The number after `n` among 1 … 2³² − 1 (ids that travel as u32 and must never be 0). */
export function nextU32(n: number): number {
  return n >= 0xffffffff ? 1 : n + 1;
}
