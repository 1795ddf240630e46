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
  /** Who asked (a worker link): its waiters go when it goes. */
  owner: object | undefined;
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
    if (this.#handToWaiter(message)) return;
    this.#quota.charge(message.value.length, `a message "${message.key.slice(0, 64)}"`);
    const queue = this.#messages.get(message.key) ?? [];
    queue.push(message);
    this.#messages.set(message.key, queue);
  }

  /**
   * A message taken by a `get` whose asker is gone before it could be told: it goes back to
   * the front of its queue (it was the oldest), or to the next waiter.
   */
  putBack(message: Message): void {
    if (this.#handToWaiter(message)) return;
    // Back where it was counted before: never refused, it was stored already.
    this.#quota.force(message.value.length);
    const queue = this.#messages.get(message.key) ?? [];
    queue.unshift(message);
    this.#messages.set(message.key, queue);
  }

  /**
   * Consumes the first message with `key` from `source` (a process name or ANY). `owner` ties a
   * waiting get to who asked, so `dropWaitersOf` can remove it when the asker dies.
   */
  get(source: string, key: string, timeoutMs: number, owner?: object): Promise<Message> {
    const message = takeFirst(this.#messages, key, (m) => matches(source, m.source));
    if (message) {
      this.#quota.charge(-message.value.length, "mailbox.get");
      return Promise.resolve(message);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { source, owner, resolve, reject, timer: undefined as never };
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

  #handToWaiter(message: Message): boolean {
    const waiter = takeFirst(this.#waiters, message.key, (w) => matches(w.source, message.source));
    if (!waiter) return false;
    clearTimeout(waiter.timer);
    waiter.resolve(message);
    return true;
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

  /** Fails the waiting gets of `owner` (a worker that died): they must not consume messages. */
  dropWaitersOf(owner: object, error: PraaSError): void {
    for (const [key, queue] of this.#waiters) {
      const [dropped, kept] = partition(queue, (waiter) => waiter.owner === owner);
      if (kept.length === 0) this.#waiters.delete(key);
      else this.#waiters.set(key, kept);
      for (const waiter of dropped) {
        clearTimeout(waiter.timer);
        waiter.reject(error);
      }
    }
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

function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((item) => !test(item))];
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
