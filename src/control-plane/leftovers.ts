/**
 * Records an operation of this replica left mid-way because its own last store write failed
 * (the store was down as it ended): allocating, swapping or resuming, with nobody running the
 * operation. Each is settled as a crash's leftovers are, at once and then with backoff until
 * the store answers, instead of waiting for the periodic sweep for stuck operations (minutes),
 * while every request for the process waits for it to settle.
 *
 * The same retries carry other record updates the store could not take when they happened (a
 * process's death, or its own swap-out): those have no sweep behind them, so they are retried
 * for as long as the replica runs.
 */
import type { Logger } from "pino";

const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 5_000;
/** About ten minutes of retries; past them the periodic sweep still settles the record. */
const ATTEMPTS = 130;

/**
 * Reads the record and, if the failed operation left it mid-way, settles it; throws to be
 * retried. A record written after `failedAt` belongs to a later operation: it is left alone.
 */
export type Settle = (app: string, name: string, failedAt: number) => Promise<void>;

/** One record to settle: how, and how many attempts it gets. */
interface Task {
  app: string;
  name: string;
  failedAt: number;
  settle: Settle;
  attempts: number;
}

export class LeftoverSettler {
  readonly #settle: Settle;
  readonly #log: Logger;
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(settle: Settle, log: Logger) {
    this.#settle = settle;
    this.#log = log;
  }

  /**
   * An operation on app/name failed: settle its record once the operation is off the books.
   * `settle` replaces the default one for this record (e.g. to write an update the store could
   * not take), with `attempts` of its own.
   */
  schedule(app: string, name: string, settle = this.#settle, attempts = ATTEMPTS): void {
    this.#later({ app, name, failedAt: Date.now(), settle, attempts }, 0, 0);
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #later(task: Task, attempt: number, delayMs: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#attempt(task, attempt);
    }, delayMs);
    timer.unref();
    this.#timers.add(timer);
  }

  #attempt(task: Task, attempt: number): void {
    const { app, name, failedAt } = task;
    task.settle(app, name, failedAt).catch((error: unknown) => {
      if (this.#stopped) return;
      if (attempt + 1 >= task.attempts) {
        this.#log.warn({ app, name, err: String(error) }, "gave up settling a failed operation");
        return;
      }
      const delayMs = Math.min(FIRST_RETRY_MS * 2 ** attempt, LONGEST_RETRY_MS);
      this.#later(task, attempt + 1, delayMs);
    });
  }
}
