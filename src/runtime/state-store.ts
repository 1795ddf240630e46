/** The process state: key → bytes, kept in first-write order, persistent across swaps. */
import { PraaSError, type StateKey } from "../protocol/index.js";

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
}

export class StateStore {
  readonly #entries = new Map<string, Entry>();
  /** Shared with the mailbox: what the process may still store. */
  readonly quota: StorageQuota;
  #bytes = 0;

  constructor(quota = new StorageQuota()) {
    this.quota = quota;
  }

  get(key: string): Buffer | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Stores `value`; STATE_FULL (and nothing changes) when it does not fit the quota. */
  put(key: string, value: Buffer, updatedAt = Date.now()): void {
    const previous = this.#entries.get(key);
    const growth = value.length - (previous?.value.length ?? 0);
    this.quota.charge(growth, `state.put("${key.slice(0, 64)}")`);
    this.#bytes += growth;
    // Map.set keeps an existing key's position, so keys() stays in first-write order.
    this.#entries.set(key, { value, updatedAt });
  }

  delete(key: string): boolean {
    const previous = this.#entries.get(key);
    if (previous === undefined) return false;
    this.#bytes -= previous.value.length;
    this.quota.charge(-previous.value.length, "state.delete");
    return this.#entries.delete(key);
  }

  keys(): StateKey[] {
    return [...this.#entries].map(([key, entry]) => ({ key, updatedAt: entry.updatedAt }));
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
