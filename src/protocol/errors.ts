/**
 * The one error type of PraaS. Every failure a user can see carries a stable string `code`
 * from the closed set below; clients branch on the code, never on message text. Errors cross
 * process boundaries (worker → process → client) as plain `{ code, message, name }` records
 * and are rebuilt on the other side with {@link PraaSError.fromRecord}.
 */
import { describeThrown } from "./thrown.js";

export const ERROR_CODES = [
  "BAD_REQUEST", // malformed input: JSON, resource values, arguments
  "INVALID_NAME", // an application, process, function or key name outside the allowed alphabet
  "UNAUTHORIZED", // missing or wrong token / secret
  "PAYLOAD_TOO_LARGE", // a payload or body above the configured cap
  "APP_NOT_FOUND", // unknown application
  "PROCESS_NOT_FOUND", // unknown process (or peer)
  "FUNCTION_NOT_FOUND", // the application exports no such function
  "NOT_FOUND", // no such HTTP route (or secret)
  "ALREADY_EXISTS", // create with a name that is taken
  "INVALID_STATE", // a lifecycle transition that is not allowed now (e.g. swap a swapped process)
  "REPLACED", // an earlier instance of a process dialled back after a newer one took its place
  "FUNCTION_ERROR", // the user function threw; `message` is its message, `errorName` its name
  "WORKER_CRASHED", // the worker running the invocation died (exit, uncaught error, killed)
  "OUT_OF_MEMORY", // the invocation's worker was killed for passing the process's memory limit
  "TIMEOUT", // an invocation or a mailbox `get` ran past its deadline
  "PROTOCOL_ERROR", // garbage, a bad handshake or an unsupported version on a binary link
  "CONNECTION_CLOSED", // the connection carrying the request closed before the reply
  "PEER_UNAVAILABLE", // another process could not be reached
  "BUILD_FAILED", // the application did not bundle or load
  "STORAGE_ERROR", // a blob or metadata store failed
  "BACKEND_ERROR", // the backend could not start or stop a process
  "UNAVAILABLE", // the service is shutting down or cannot take work now
  "TOO_MANY_REQUESTS", // over a configured cap on invocations in flight or connections: back off
  "STATE_FULL", // a state or mailbox write would pass the process's storage budget
  "CONFLICT", // a state transaction read a key that another write changed before it committed
  "INTERNAL", // a bug: anything not covered above
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The wire form of an error. */
export interface ErrorRecord {
  code: ErrorCode;
  message: string;
  /**
   * For FUNCTION_ERROR: the name of the error the user function threw (e.g. "TypeError"). For
   * any other code: "PraaSError" when the function threw it or let it through (e.g.
   * PEER_UNAVAILABLE from `ctx.invoke`); absent when the platform itself answered.
   */
  errorName?: string;
  /** For FUNCTION_ERROR: the thrown error's stack trace, when the caller may see it. */
  stack?: string;
}

const knownCodes: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && knownCodes.has(value);
}

export class PraaSError extends Error {
  readonly code: ErrorCode;
  readonly errorName: string | undefined;
  /** The user function's own stack trace (FUNCTION_ERROR), where the caller may see it. */
  readonly functionStack: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: ErrorOptions & { errorName?: string | undefined; stack?: string | undefined },
  ) {
    super(message, options);
    this.name = "PraaSError";
    this.code = code;
    this.errorName = options?.errorName;
    this.functionStack = options?.stack;
  }

  toRecord(): ErrorRecord {
    const record: ErrorRecord = { code: this.code, message: this.message };
    if (this.errorName !== undefined) record.errorName = this.errorName;
    if (this.functionStack !== undefined) record.stack = this.functionStack;
    return record;
  }

  /** The same error without the function's stack trace (for callers who may not see it). */
  withoutStack(): PraaSError {
    if (this.functionStack === undefined) return this;
    return new PraaSError(this.code, this.message, { errorName: this.errorName });
  }

  static fromRecord(record: {
    code: string;
    message: string;
    errorName?: string | undefined;
    stack?: string | undefined;
  }): PraaSError {
    if (!isErrorCode(record.code)) {
      return new PraaSError("INTERNAL", `[${record.code}] ${record.message}`);
    }
    const { errorName, stack } = record;
    return new PraaSError(record.code, record.message, { errorName, stack });
  }
}

export function isPraaSError(value: unknown): value is PraaSError {
  return value instanceof PraaSError;
}

/** Turns anything thrown into a PraaSError; unknown errors become `fallback`. */
export function ensurePraaSError(value: unknown, fallback: ErrorCode = "INTERNAL"): PraaSError {
  if (value instanceof PraaSError) return value;
  if (value instanceof Error) return new PraaSError(fallback, value.message, { cause: value });
  return new PraaSError(fallback, String(value));
}

/** The most function names a FUNCTION_NOT_FOUND message lists. */
const LISTED_FUNCTIONS = 20;

/** FUNCTION_NOT_FOUND for `name`, naming what `owner` does export so the caller can fix the call. */
export function functionNotFound(
  owner: string,
  name: string,
  available: Iterable<string>,
): PraaSError {
  const names = [...available].sort();
  const listed = names.slice(0, LISTED_FUNCTIONS).join(", ");
  const more = names.length > LISTED_FUNCTIONS ? `, … (${names.length} in all)` : "";
  const has = names.length === 0 ? "it exports none" : `it has: ${listed}${more}`;
  return new PraaSError("FUNCTION_NOT_FOUND", `${owner} has no function "${name}"; ${has}`);
}

/**
 * A PraaSError a function threw or let through, named as such (see ErrorRecord.errorName): the
 * platform's own refusals of a call that never ran carry no name, and only those may be retried.
 */
export function thrownByFunction(value: unknown): unknown {
  if (!(value instanceof PraaSError) || value.errorName !== undefined) return value;
  const { code, message, name, functionStack } = value;
  return new PraaSError(code, message, { errorName: name, stack: functionStack });
}

/**
 * Whether a call was refused before it ran (the process was on its way out, or could not be
 * reached), so that sending it again cannot run it twice.
 */
export function refusedBeforeRunning(error: unknown): boolean {
  return (
    error instanceof PraaSError &&
    (error.code === "UNAVAILABLE" || error.code === "PEER_UNAVAILABLE") &&
    error.errorName === undefined
  );
}

/** The record a user function's thrown value becomes. */
export function functionErrorRecord(value: unknown): ErrorRecord {
  if (value instanceof PraaSError) return value.toRecord();
  if (value instanceof Error) {
    const record: ErrorRecord = { code: "FUNCTION_ERROR", message: value.message };
    record.errorName = value.name;
    if (typeof value.stack === "string") record.stack = value.stack;
    return record;
  }
  return { code: "FUNCTION_ERROR", message: describeThrown(value), errorName: "Error" };
}
