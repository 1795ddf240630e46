/**
 * The API a PraaS function sees. Types only: the implementation lives in the worker.
 */
import type { Value } from "./values.js";

export interface StateKey {
  key: string;
  /** Last write, milliseconds since the epoch. */
  updatedAt: number;
}

export interface ProcessState {
  /** The stored bytes, or `undefined` when the key is absent. */
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Value): Promise<void>;
  /** Resolves `true` when the key existed. */
  delete(key: string): Promise<boolean>;
  /** Every key in first-write order, with its last write time. */
  keys(): Promise<StateKey[]>;
  /**
   * Runs `body` as an optimistic, serializable transaction: its reads see one consistent state,
   * its writes are buffered and applied all at once when `body` returns, and only if nothing it
   * read changed meanwhile. Otherwise `body` runs again (so it must not have other side
   * effects), up to `maxAttempts` times, then the call rejects with CONFLICT. Resolves to what
   * `body` returned; a `body` that throws aborts the transaction, writing nothing.
   */
  transaction<T>(
    body: (tx: Transaction) => T | Promise<T>,
    options?: TransactionOptions,
  ): Promise<T>;
  /**
   * Adds `delta` (default 1) to the number stored at `key` (absent counts as 0) in one atomic
   * step, stores it as a decimal string and resolves to it. BAD_REQUEST when the stored value
   * is not a number.
   */
  increment(key: string, delta?: number): Promise<number>;
  /**
   * Replaces the value of `key` by `fn(current)` atomically (a transaction on one key; `fn` may
   * run more than once). Returning `undefined` deletes the key. Resolves to the stored bytes.
   */
  update(
    key: string,
    fn: (current: Uint8Array | undefined) => Value | undefined | Promise<Value | undefined>,
  ): Promise<Uint8Array | undefined>;
  /**
   * Sets `key` to `next` only if it currently holds `expected` (byte for byte; `undefined`:
   * absent), atomically. `next` undefined deletes. Resolves whether it did.
   */
  compareAndSet(
    key: string,
    expected: Value | undefined,
    next: Value | undefined,
  ): Promise<boolean>;
}

/** The state as one transaction sees it. */
export interface Transaction {
  /** The value in the transaction's view: its own writes first, then the process's state. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Buffered until the transaction commits. */
  put(key: string, value: Value): void;
  /** Buffered until the transaction commits. */
  delete(key: string): void;
}

export interface TransactionOptions {
  /** How many times the body may run before the transaction fails with CONFLICT; default 10. */
  maxAttempts?: number;
}

export interface GetOptions {
  /** How long to wait for the message; defaults to the invocation timeout. */
  timeoutMs?: number;
}

export interface InvokeOptions {
  /** Another process of the same application; default: this process. */
  process?: string;
}

export interface AlarmOptions {
  /** The function of this process to invoke; default "alarm". */
  function?: string;
  /** Its input (at most 64 KiB); default empty. */
  payload?: Value;
}

export interface ProcessList {
  active: string[];
  swapped: string[];
}

export interface Context {
  readonly invocationId: string;
  readonly processId: string;
  readonly application: string;
  readonly functionName: string;
  readonly state: ProcessState;
  /** Sends a mailbox message to `destination`: a process name or "SELF". */
  put(destination: string, key: string, value: Value): Promise<void>;
  /** Receives and consumes a message from `source` (a name, "SELF" or "ANY"); waits for it. */
  get(source: string, key: string, options?: GetOptions): Promise<Uint8Array>;
  /** Calls a function here or in another process; resolves to its result bytes. */
  invoke(functionName: string, payload?: Value, options?: InvokeOptions): Promise<Uint8Array>;
  processes(): Promise<ProcessList>;
  /**
   * Schedules an invocation of a function of this process at `at` (a Date or ms since the
   * epoch; a past time: as soon as possible), at least once, even if the process is swapped out
   * or the control plane restarts meanwhile. One alarm per function: setting it again replaces
   * it. Resolves once the control plane stored it. Refused with FUNCTION_NOT_FOUND for a
   * function the application does not export, BAD_REQUEST for a time that is not a finite
   * number, a payload over 64 KiB or a 101st alarm, UNAVAILABLE without a control plane.
   */
  setAlarm(at: Date | number, options?: AlarmOptions): Promise<void>;
  /** Cancels the alarm of `functionName` (default "alarm"); resolves whether one was set. */
  cancelAlarm(functionName?: string): Promise<boolean>;
}

/** The shape of a PraaS function. */
export type PraaSFunction = (
  input: Uint8Array,
  ctx: Context,
) => Value | void | undefined | Promise<Value | void | undefined>;
