import { storedEntryBytes } from "../../protocol/index.js";

/**
 * A worker's copy of the process state it has read or written, so a function's `state.get`
 * after a `put` (or a repeated `get`) costs no round trip to the process. The process remains
 * the owner: every put and delete goes to it, and it tells the other workers which keys changed
 * (StateChanged). Those notices travel on the same ordered link as the next invocation, so an
 * invocation that starts after another one finished always sees its writes.
 */
export class StateCache {
  readonly #values = new Map<string, Buffer | null>();
  /** Bumped on every local write or notice, so a read that raced one is not cached. */
  readonly #versions = new Map<string, number>();
  readonly #limitBytes: number;
  #bytes = 0;

  /**
   * @param limitBytes cache budget, counted as the process counts its state (with each
   *   entry's overhead); past it the cache starts over
   * @param maxValueBytes the largest value the process accepts (its payload cap)
   */
  constructor(
    limitBytes: number,
    readonly maxValueBytes: number,
  ) {
    this.#limitBytes = limitBytes;
  }

  /** The cached value (`null`: known absent), or `undefined` when not cached. */
  lookup(key: string): Buffer | null | undefined {
    return this.#values.get(key);
  }

  version(key: string): number {
    return this.#versions.get(key) ?? 0;
  }

  /** Remembers what the process answered, unless the key changed since the read was sent. */
  remember(key: string, value: Buffer | null, readVersion: number): void {
    if (this.version(key) === readVersion) this.#set(key, value);
  }

  /** A local write: cached at once (read-your-writes), and any read in flight is ignored. */
  write(key: string, value: Buffer | null): void {
    this.#bump(key);
    this.#set(key, value);
  }

  /**
   * A local change whose result is not known yet (a delete in flight): drops the cached copy,
   * makes reads in flight stale, and returns the version to pass to `remember` with the answer.
   */
  invalidate(key: string): number {
    this.forget(key);
    return this.version(key);
  }

  /** Another worker changed `key`. */
  forget(key: string): void {
    this.#bump(key);
    this.#set(key, undefined);
  }

  #bump(key: string): void {
    this.#versions.set(key, this.version(key) + 1);
  }

  #set(key: string, value: Buffer | null | undefined): void {
    const old = this.#values.get(key);
    if (old !== undefined) this.#bytes -= weigh(key, old);
    if (value === undefined) {
      this.#values.delete(key);
      return;
    }
    this.#values.set(key, value);
    this.#bytes += weigh(key, value);
    // Past the budget start over: a cache miss is only a round trip.
    if (this.#bytes > this.#limitBytes) this.#clear();
  }

  #clear(): void {
    this.#values.clear();
    this.#bytes = 0;
  }
}

/** What a cached entry (a value, or a key known absent) counts against the budget. */
function weigh(key: string, value: Buffer | null): number {
  return storedEntryBytes(key, value?.length ?? 0);
}
