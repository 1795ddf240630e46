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
}

export interface GetOptions {
  /** How long to wait for the message; defaults to the invocation timeout. */
  timeoutMs?: number;
}

export interface InvokeOptions {
  /** Another process of the same application; default: this process. */
  process?: string;
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
}

/** The shape of a PraaS function. */
export type PraaSFunction = (
  input: Uint8Array,
  ctx: Context,
) => Value | void | undefined | Promise<Value | void | undefined>;
