import { PraaSError } from "../protocol/errors.js";

/**
 * Wraps a backend failure as STORAGE_ERROR, naming what was being done. PraaSErrors pass
 * through unchanged so a meaningful code (INVALID_NAME, or one thrown by a caller's body
 * stream) is never hidden behind STORAGE_ERROR.
 */
export function storageError(action: string, error: unknown): PraaSError {
  if (error instanceof PraaSError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new PraaSError("STORAGE_ERROR", `${action} failed: ${reason}`, { cause: error });
}

/** Runs `work`, turning any failure into a STORAGE_ERROR about `action`. */
export async function guarded<T>(action: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw storageError(action, error);
  }
}

/** Re-yields a stream's chunks, turning a mid-stream failure into a STORAGE_ERROR. */
export async function* guardedStream<T>(
  action: string,
  source: AsyncIterable<T>,
): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (error) {
    throw storageError(action, error);
  }
}
