/**
 * A failed function's stack trace as its author should see it: the function's own frames (and
 * whatever it called), without the worker's frames below them, which called the function and
 * say nothing about the failure.
 */
import { functionErrorRecord, type ErrorRecord } from "../../protocol/index.js";

/**
 * The file of the worker's own code. A built worker runs one bundle of all of it
 * (dist/runtime/worker-bundle.js), whose modules all share its URL.
 */
const WORKER_FILE = import.meta.url;

/** `stack` cut at its first frame in `workerFile`: everything from there down called the function. */
export function userStack(stack: string, workerFile = WORKER_FILE): string {
  const lines = stack.split("\n");
  const first = lines.findIndex((line) => line.includes(workerFile));
  return first < 0 ? stack : lines.slice(0, first).join("\n");
}

/** The record a function's thrown value becomes, with only the function's frames in its stack. */
export function userErrorRecord(error: unknown): ErrorRecord {
  const record = functionErrorRecord(error);
  if (record.stack !== undefined) record.stack = userStack(record.stack);
  return record;
}
