/** Option-value parsers: a bad value fails at parse time with commander's one-line error. */
import { InvalidArgumentError } from "commander";
import {
  PROCESS_LIMIT_KEYS,
  PraaSError,
  parseDuration,
  parseInteger,
  parseProcessLimits,
  type ProcessLimits,
} from "../protocol/index.js";

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
  return integerOption(1)(value);
}

/** A commander parser for integers in [min, max] (the one integer syntax, src/protocol). */
export function integerOption(min?: number, max?: number): (value: string) => number {
  return (value) => {
    try {
      return parseInteger(value, "the value", min, max);
    } catch (error) {
      throw new InvalidArgumentError(error instanceof PraaSError ? error.message : String(error));
    }
  };
}

/** `--idle-swap`: a duration ("10m", "30s", "500ms"; a bare number is ms; 0: never) → ms. */
export function parseDurationOption(value: string): number {
  try {
    return parseDuration(value, "the value");
  } catch (error) {
    throw new InvalidArgumentError(error instanceof PraaSError ? error.message : String(error));
  }
}

/** For options that may repeat (`--host a --host b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--limit key=value` (repeatable): one process limit, checked like the API checks it. */
export function collectLimit(value: string, previous: ProcessLimits = {}): ProcessLimits {
  const equals = value.indexOf("=");
  if (equals <= 0) {
    throw new InvalidArgumentError(`expected key=value, one of ${PROCESS_LIMIT_KEYS.join(", ")}.`);
  }
  const key = value.slice(0, equals);
  try {
    const number = parseInteger(value.slice(equals + 1), key);
    return parseProcessLimits({ ...previous, [key]: number }, "--limit");
  } catch (error) {
    throw new InvalidArgumentError(error instanceof PraaSError ? error.message : String(error));
  }
}
