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

/**
 * `stack` cut after its last frame of the function's own code: below it are the worker's frames
 * (in `workerFile`) that called the function, and Node's own that ran them. Frames above it stay,
 * even the worker's (an API of `ctx` the function called); a stack with no frame of the
 * function's is left whole.
 */
export function userStack(stack: string, workerFile = WORKER_FILE): string {
  const lines = stack.split("\n");
  const last = lines.findLastIndex(
    (line, i) => i > 0 && !line.includes(workerFile) && !NODE_FRAME.test(line),
  );
  return last < 1 ? stack : lines.slice(0, last + 1).join("\n");
}

/** A frame in Node's own code: `(node:async_hooks:346:14)`, `at node:internal/...:95:5`. */
const NODE_FRAME = /[( ]node:[\w/]+:\d+:\d+\)?$/;

/** The record a function's thrown value becomes, with only the function's frames in its stack. */
export function userErrorRecord(error: unknown): ErrorRecord {
  const record = functionErrorRecord(error);
  if (record.stack !== undefined) record.stack = userStack(record.stack);
  return record;
}
