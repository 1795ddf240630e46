/**
 * The process mailbox: messages put by this or other processes, consumed by `get`. Messages
 * with the same key queue up in arrival order (nothing is dropped); a `get` that finds no
 * match waits until a matching `put` or its deadline. State and mailbox are separate keyspaces.
 */
import { ANY, PraaSError } from "../protocol/index.js";
import { StorageQuota } from "./state-store.js";

export interface Message {
  key: string;
  source: string;
  value: Buffer;
}

interface Waiter {
  source: string;
  resolve(message: Message): void;
  reject(error: PraaSError): void;
  timer: NodeJS.Timeout;
}

export class Mailbox {
  readonly #messages = new Map<string, Message[]>();
  readonly #waiters = new Map<string, Waiter[]>();
  /** Queued messages count against the process's storage; one handed to a waiter does not. */
  readonly #quota: StorageQuota;

  constructor(quota = new StorageQuota()) {
    this.#quota = quota;
  }

  put(message: Message): void {
    const waiter = takeFirst(this.#waiters, message.key, (w) => matches(w.source, message.source));
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(message);
      return;
    }
    this.#quota.charge(message.value.length, `a message "${message.key.slice(0, 64)}"`);
    const queue = this.#messages.get(message.key) ?? [];
    queue.push(message);
    this.#messages.set(message.key, queue);
  }

  /** Consumes the first message with `key` from `source` (a process name or ANY). */
  get(source: string, key: string, timeoutMs: number): Promise<Message> {
    const message = takeFirst(this.#messages, key, (m) => matches(source, m.source));
    if (message) {
      this.#quota.charge(-message.value.length, "mailbox.get");
      return Promise.resolve(message);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { source, resolve, reject, timer: undefined as never };
      waiter.timer = setTimeout(() => {
        removeItem(this.#waiters, key, waiter);
        reject(
          new PraaSError("TIMEOUT", `no message "${key}" from ${source} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const queue = this.#waiters.get(key) ?? [];
      queue.push(waiter);
      this.#waiters.set(key, queue);
    });
  }

  /** Every undelivered message, oldest first per key. */
  messages(): Message[] {
    return [...this.#messages.values()].flat();
  }

  get waiting(): number {
    let count = 0;
    for (const queue of this.#waiters.values()) count += queue.length;
    return count;
  }

  /** Fails every waiting `get`, e.g. when the process shuts down. */
  rejectWaiters(error: PraaSError): void {
    for (const queue of this.#waiters.values()) {
      for (const waiter of queue) {
        clearTimeout(waiter.timer);
        waiter.reject(error);
      }
    }
    this.#waiters.clear();
  }
}

function matches(wanted: string, actual: string): boolean {
  return wanted === ANY || wanted === actual;
}

function takeFirst<T>(
  map: Map<string, T[]>,
  key: string,
  test: (item: T) => boolean,
): T | undefined {
  const queue = map.get(key);
  if (!queue) return undefined;
  const index = queue.findIndex(test);
  if (index < 0) return undefined;
  const [item] = queue.splice(index, 1);
  if (queue.length === 0) map.delete(key);
  return item;
}

function removeItem<T>(map: Map<string, T[]>, key: string, item: T): void {
  const queue = map.get(key);
  if (!queue) return;
  const index = queue.indexOf(item);
  if (index >= 0) queue.splice(index, 1);
  if (queue.length === 0) map.delete(key);
}
