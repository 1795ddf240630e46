/** The process state: key → bytes, kept in first-write order, persistent across swaps. */
import type { StateKey } from "../protocol/index.js";

interface Entry {
  value: Buffer;
  updatedAt: number;
}

export class StateStore {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  get(key: string): Buffer | undefined {
    return this.#entries.get(key)?.value;
  }

  put(key: string, value: Buffer, updatedAt = Date.now()): void {
    const previous = this.#entries.get(key);
    this.#bytes += value.length - (previous?.value.length ?? 0);
    // Map.set keeps an existing key's position, so keys() stays in first-write order.
    this.#entries.set(key, { value, updatedAt });
  }

  delete(key: string): boolean {
    const previous = this.#entries.get(key);
    if (previous === undefined) return false;
    this.#bytes -= previous.value.length;
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
