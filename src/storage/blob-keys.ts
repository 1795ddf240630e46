/**
 * Blob key rules shared by every BlobStore: keys become file paths on disk and object names
 * in S3, so each slash-separated segment keeps to a safe alphabet and `.`/`..` are refused
 * (they would climb out of the store's root directory).
 */
import { PraaSError } from "../protocol/errors.js";

const SEGMENT = /^[A-Za-z0-9_.-]+$/;
const PREFIX_CHARACTERS = /^[A-Za-z0-9_./-]*$/;
const MAX_KEY_BYTES = 1024;

export function isValidBlobSegment(segment: string): boolean {
  return SEGMENT.test(segment) && segment !== "." && segment !== "..";
}

export function isValidBlobKey(key: string): boolean {
  return key.length <= MAX_KEY_BYTES && key.split("/").every(isValidBlobSegment);
}

export function assertBlobKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || !isValidBlobKey(key)) {
    throw new PraaSError(
      "INVALID_NAME",
      `invalid blob key ${JSON.stringify(key)}: use '/'-separated segments of letters, digits, '_', '.', '-' (no '.', '..' or empty segments)`,
    );
  }
}

/**
 * A list prefix may end mid-segment (`swaps/cou`), but everything up to its last slash must be
 * whole valid segments, so a prefix can never point outside the store.
 */
export function assertBlobPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string" || !PREFIX_CHARACTERS.test(prefix) || !hasValidDirectory(prefix)) {
    throw new PraaSError("INVALID_NAME", `invalid blob prefix ${JSON.stringify(prefix)}`);
  }
}

/** The whole segments of a prefix: `a/b/c` → `a/b`, `a/b/` → `a/b`, `abc` → ``. */
export function prefixDirectory(prefix: string): string {
  const slash = prefix.lastIndexOf("/");
  return slash < 0 ? "" : prefix.slice(0, slash);
}

function hasValidDirectory(prefix: string): boolean {
  const directory = prefixDirectory(prefix);
  return prefix.startsWith("/") ? false : directory === "" || isValidBlobKey(directory);
}
