/** Option-value parsers: a bad value fails at parse time with commander's one-line error. */
import { InvalidArgumentError } from "commander";

/** `--vcpus`: any positive number (fractions of a CPU are allowed). */
export function parsePositiveNumber(value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number) || number <= 0) {
    throw new InvalidArgumentError("expected a positive number.");
  }
  return number;
}

/** `--memory`: a positive whole number of MiB. */
export function parsePositiveInteger(value: string): number {
  const number = parsePositiveNumber(value);
  if (!Number.isInteger(number)) throw new InvalidArgumentError("expected a positive integer.");
  return number;
}

/** For options that may repeat (`--host a --host b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
