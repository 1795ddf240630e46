/**
 * Names of applications, processes and functions: they appear in URLs, blob keys, metadata
 * fields and Redis keys, so they are kept to a safe alphabet.
 */
import { PraaSError } from "./errors.js";

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * The function a pre-started worker has before its LOAD, and only then: the warm pool calls it
 * to rehearse a call. No module can export a name with a NUL in it.
 */
export const REHEARSAL_FUNCTION = "\u0000rehearsal";

/** The sources and destinations of mailbox messages that are not process names. */
export const SELF = "SELF";
export const ANY = "ANY";

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && name !== SELF && name !== ANY;
}

/** What a name may be, for error messages. */
export const NAME_RULE = "use 1-63 letters, digits, '_', '.', '-', starting with a letter or digit";

/** The longest part of a rejected name an error message quotes: a URL may carry kilobytes. */
const QUOTED_NAME_CHARS = 80;

function quoteName(name: unknown): string {
  if (typeof name !== "string" || name.length <= QUOTED_NAME_CHARS) return JSON.stringify(name);
  const start = JSON.stringify(name.slice(0, QUOTED_NAME_CHARS));
  return `${start.slice(0, -1)}…" (${name.length} characters)`;
}

export function assertName(name: unknown, what: string): asserts name is string {
  if (typeof name !== "string" || !isValidName(name)) {
    throw new PraaSError("INVALID_NAME", `invalid ${what} name ${quoteName(name)}: ${NAME_RULE}`);
  }
}

/** State and mailbox keys: any non-empty string up to 1 KiB of UTF-8. */
export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || Buffer.byteLength(key) > 1024) {
    throw new PraaSError("INVALID_NAME", "keys must be non-empty strings of at most 1024 bytes");
  }
}
