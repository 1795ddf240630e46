/**
 * The process mailbox: messages put by this or other processes, consumed by `get`. Messages
 * with the same key queue up in arrival order (nothing is dropped); a `get` that finds no
 * match waits until a matching `put` or its deadline. State and mailbox are separate keyspaces.
 */
import { ANY, PraaSError, ensurePraaSError, storedMessageBytes } from "../protocol/index.js";
import { StorageQuota } from "./state-store.js";
import type { WalOp } from "./wal.js";

/** Where mailbox changes go to be durable: a process under `log` appends them to its WAL. */
export type MailJournal = (ops: WalOp[]) => Promise<void>;

const UNLOGGED: MailJournal = () => Promise.resolve();

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
  readonly #journal: MailJournal;

  constructor(quota = new StorageQuota(), journal: MailJournal = UNLOGGED) {
    this.#quota = quota;
    this.#journal = journal;
  }

  /**
   * Queues `message` (or hands it to a waiting get) at once; resolves when the change is as
   * durable as the journal makes it, which is when the sender may be told it arrived.
   * STATE_FULL rejects and changes nothing.
   */
  put(message: Message): Promise<void> {
    const waiter = this.#takeWaiter(message);
    if (!waiter) {
      try {
        this.#quota.charge(weigh(message), `a message "${message.key.slice(0, 64)}"`);
      } catch (error) {
        return Promise.reject(ensurePraaSError(error));
      }
      pushTo(this.#messages, message, "back");
    }
    // Logged before it is handed on, so a replay sees the arrival before the delivery.
    const logged = this.#journal([mailOp("mail", message), ...(waiter ? [taken(message)] : [])]);
    if (waiter) waiter.resolve(message);
    return logged;
  }

  /**
   * A message taken by a `get` whose asker is gone before it could be told: it goes back to
   * the front of its queue (it was the oldest), or to the next waiter.
   */
  putBack(message: Message): void {
    const waiter = this.#takeWaiter(message);
    if (!waiter) {
      // Back where it was counted before: never refused, it was stored already.
      this.#quota.force(weigh(message));
      pushTo(this.#messages, message, "front");
    }
    this.#record([mailOp("returned", message), ...(waiter ? [taken(message)] : [])]);
    waiter?.resolve(message);
  }

  /** Applies a logged change at restore time (nothing is journaled again, nothing refused). */
  replay(op: WalOp): void {
    if (op.kind === "mail" || op.kind === "returned") {
      const message = { key: op.key, source: op.source, value: op.value };
      this.#quota.force(weigh(message));
      pushTo(this.#messages, message, op.kind === "mail" ? "back" : "front");
    } else if (op.kind === "taken") {
      const message = takeFirst(this.#messages, op.key, (m) => m.source === op.source);
      if (message) this.#quota.charge(-weigh(message), "mailbox.replay");
    }
  }

  /**
   * Consumes the first message with `key` from `source` (a process name or ANY). `owner` ties a
   * waiting get to who asked, so `dropWaitersOf` can remove it when the asker dies.
   */
  get(source: string, key: string, timeoutMs: number, owner?: object): Promise<Message> {
    const message = takeFirst(this.#messages, key, (m) => matches(source, m.source));
    if (message) {
      this.#quota.charge(-weigh(message), "mailbox.get");
      this.#record([taken(message)]);
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

  #takeWaiter(message: Message): Waiter | undefined {
    const waiter = takeFirst(this.#waiters, message.key, (w) => matches(w.source, message.source));
    if (waiter) clearTimeout(waiter.timer);
    return waiter;
  }

  /**
   * A delivery nobody waits to be durable: if it is lost in a crash, the message is delivered
   * again after the restore (at least once), which a failed append also means.
   */
  #record(ops: WalOp[]): void {
    this.#journal(ops).catch(() => undefined);
  }

  /** Every undelivered message, oldest first per key. */
  messages(): Message[] {
    return [...this.#messages.values()].flat();
  }

  /** Undelivered messages. */
  get depth(): number {
    let count = 0;
    for (const queue of this.#messages.values()) count += queue.length;
    return count;
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

function mailOp(kind: "mail" | "returned", message: Message): WalOp {
  return { kind, key: message.key, source: message.source, value: message.value };
}

/** A delivered message: the oldest of its key from its source (gets take the first match). */
function taken(message: Message): WalOp {
  return { kind: "taken", key: message.key, source: message.source };
}

function pushTo(map: Map<string, Message[]>, message: Message, end: "front" | "back"): void {
  const queue = map.get(message.key) ?? [];
  if (end === "back") queue.push(message);
  else queue.unshift(message);
  map.set(message.key, queue);
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

/** What a queued message counts against the quota. */
function weigh(message: Message): number {
  return storedMessageBytes(message.key, message.source, message.value.length);
}
