/**
 * The process state: key → bytes, kept in first-write order, persistent across swaps. Every put
 * and delete takes the next number of one process-wide clock and stamps the key with it (an
 * absent key has version 0), so optimistic transactions can tell whether what they read is
 * still current, and commit all their writes in one synchronous step.
 */
import {
  PraaSError,
  storedEntryBytes,
  type ProcessStateInfo,
  type StateKey,
  type StateKeyInfo,
  type TxRead,
  type TxWrite,
} from "../protocol/index.js";

/**
 * The bytes of state and undelivered messages a process may hold, shared by its state store and
 * its mailbox: both live in the process's memory, which has a limit.
 */
export class StorageQuota {
  #used = 0;

  constructor(readonly limitBytes = Number.POSITIVE_INFINITY) {}

  get used(): number {
    return this.#used;
  }

  get free(): number {
    return Math.max(0, this.limitBytes - this.#used);
  }

  /** Counts `growth` more bytes (negative: fewer); STATE_FULL, counting nothing, when over. */
  charge(growth: number, what: string): void {
    if (growth > 0 && this.#used + growth > this.limitBytes) {
      throw new PraaSError(
        "STATE_FULL",
        `${what} needs ${growth} more bytes, but state and messages already hold ${this.#used} of the process's ${this.limitBytes} bytes`,
      );
    }
    this.#used += growth;
  }

  /** Counts bytes that were stored already and must not be refused (a message put back). */
  force(bytes: number): void {
    this.#used += bytes;
  }
}

/** One change to the state: `value` undefined deletes the key. */
export interface StateOp {
  key: string;
  value: Buffer | undefined;
}

interface Entry {
  value: Buffer;
  updatedAt: number;
  /** The clock when the key was last written. */
  version: number;
}

/** A value and the version it had when read; version 0 and no value: absent. */
export interface VersionedValue {
  value: Buffer | undefined;
  version: number;
}

export class StateStore {
  readonly #entries = new Map<string, Entry>();
  /** Shared with the mailbox: what the process may still store. */
  readonly quota: StorageQuota;
  #bytes = 0;
  /** The last version handed out. */
  #clock = 0;

  constructor(quota = new StorageQuota()) {
    this.quota = quota;
  }

  get(key: string): Buffer | undefined {
    return this.#entries.get(key)?.value;
  }

  read(key: string): VersionedValue {
    const entry = this.#entries.get(key);
    return { value: entry?.value, version: entry?.version ?? 0 };
  }

  version(key: string): number {
    return this.#entries.get(key)?.version ?? 0;
  }

  /** Stores `value`; STATE_FULL (and nothing changes) when it does not fit the quota. */
  put(key: string, value: Buffer, updatedAt = Date.now()): void {
    this.quota.charge(this.#growth(key, value), `state.put("${key.slice(0, 64)}")`);
    this.#set(key, value, updatedAt);
  }

  /**
   * Stores a value that was accepted before (a snapshot's, a logged put's): never refused,
   * even if the quota shrank or is counted differently since, so a resume cannot lose it.
   */
  restore(key: string, value: Buffer, updatedAt: number): void {
    this.quota.force(this.#growth(key, value));
    this.#set(key, value, updatedAt);
  }

  delete(key: string): boolean {
    this.#clock++;
    const previous = this.#entries.get(key);
    if (previous === undefined) return false;
    this.#bytes -= previous.value.length;
    this.quota.charge(this.#growth(key, undefined), "state.delete");
    return this.#entries.delete(key);
  }

  /** CONFLICT unless every read still has the version it was read at. */
  validate(reads: readonly TxRead[]): void {
    for (const { key, version } of reads) {
      if (this.version(key) !== version) {
        throw new PraaSError(
          "CONFLICT",
          `state key "${key.slice(0, 64)}" changed after the transaction read it`,
        );
      }
    }
  }

  /**
   * Commits a transaction: CONFLICT when a read is stale, STATE_FULL when the writes together do
   * not fit; either way nothing changes. Otherwise every write is applied, in this one
   * synchronous step, so no other operation sees some of them without the others.
   */
  commit(reads: readonly TxRead[], writes: readonly TxWrite[]): void {
    this.validate(reads);
    const growth = writes.reduce((sum, { key, value }) => sum + this.#growth(key, value), 0);
    this.quota.charge(growth, `a transaction writing ${writes.length} keys`);
    const now = Date.now();
    for (const { key, value } of writes) {
      if (value === undefined) this.#remove(key);
      else this.#set(key, Buffer.from(value), now);
    }
  }

  /**
   * Adds `delta` to the number stored at `key` (absent: 0) and stores the sum as a decimal
   * string; BAD_REQUEST when the stored value is not a number. Returns the sum.
   */
  increment(key: string, delta: number): number {
    const current = this.#entries.get(key)?.value.toString("utf8") ?? "0";
    const number = current.trim() === "" ? Number.NaN : Number(current);
    if (!Number.isFinite(number)) {
      throw new PraaSError(
        "BAD_REQUEST",
        `state.increment("${key.slice(0, 64)}"): the stored value is not a number: ${JSON.stringify(current.slice(0, 64))}`,
      );
    }
    const sum = number + delta;
    if (!Number.isFinite(sum)) {
      throw new PraaSError("BAD_REQUEST", `state.increment("${key.slice(0, 64)}") overflows`);
    }
    this.put(key, Buffer.from(String(sum), "utf8"));
    return sum;
  }

  /**
   * Runs `apply`, a change of `keys`, and returns its result with a function that takes the
   * change back: each key gets its previous entry (value, version) again, unless something
   * changed it since. Undoing newest first restores the state before all of them.
   */
  undoable<T>(keys: readonly string[], apply: () => T): { result: T; undo: () => void } {
    const before = keys.map((key) => this.#entries.get(key));
    const result = apply();
    const after = keys.map((key) => this.#entries.get(key));
    const undo = (): void =>
      keys.forEach((key, i) => {
        if (this.#entries.get(key) === after[i]) this.#reinstate(key, before[i]);
      });
    return { result, undo };
  }

  #reinstate(key: string, entry: Entry | undefined): void {
    this.#bytes += this.#valueGrowth(key, entry?.value);
    this.quota.force(this.#growth(key, entry?.value));
    if (entry === undefined) this.#entries.delete(key);
    else this.#entries.set(key, entry);
  }

  /** What the quota grows by when `key` takes `value` (undefined: is deleted). */
  #growth(key: string, value: Uint8Array | undefined): number {
    return weigh(key, value) - weigh(key, this.#entries.get(key)?.value);
  }

  /** What the values held grow by when `key` takes `value` (undefined: is deleted). */
  #valueGrowth(key: string, value: Uint8Array | undefined): number {
    return (value?.length ?? 0) - (this.#entries.get(key)?.value.length ?? 0);
  }

  /** Writes an entry the quota was charged for already. */
  #set(key: string, value: Buffer, updatedAt: number): void {
    this.#bytes += this.#valueGrowth(key, value);
    // Map.set keeps an existing key's position, so keys() stays in first-write order.
    this.#entries.set(key, { value, updatedAt, version: ++this.#clock });
  }

  /** Deletes an entry whose bytes were uncharged already. */
  #remove(key: string): void {
    this.#clock++;
    this.#bytes -= this.#entries.get(key)?.value.length ?? 0;
    this.#entries.delete(key);
  }

  /** Built in one pass: near the storage limit, every copy of the key list costs memory. */
  keys(): StateKey[] {
    const keys: StateKey[] = [];
    for (const [key, entry] of this.#entries) keys.push({ key, updatedAt: entry.updatedAt });
    return keys;
  }

  /** The first `limit` keys with their value sizes, and the totals (no values leave the process). */
  listing(limit: number): ProcessStateInfo {
    const keys: StateKeyInfo[] = [];
    for (const [key, entry] of this.#entries) {
      if (keys.length >= limit) break;
      const updatedAt = new Date(entry.updatedAt).toISOString();
      keys.push({ key, size: entry.value.length, updatedAt });
    }
    return { keys, totalKeys: this.#entries.size, totalBytes: this.#bytes };
  }

  entries(): IterableIterator<[string, Entry]> {
    return this.#entries.entries();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Bytes of values held (keys not counted). */
  get bytes(): number {
    return this.#bytes;
  }
}

/** What an entry counts against the quota; an absent one nothing. */
function weigh(key: string, value: Uint8Array | undefined): number {
  return value === undefined ? 0 : storedEntryBytes(key, value.length);
}
