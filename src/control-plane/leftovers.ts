/**
 * Records an operation of this replica left mid-way because its own last store write failed
 * (the store was down as it ended): allocating, swapping or resuming, with nobody running the
 * operation. Each is settled as a crash's leftovers are, at once and then with backoff until
 * the store answers, instead of waiting for the periodic sweep for stuck operations (minutes),
 * while every request for the process waits for it to settle.
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

export class LeftoverSettler {
  readonly #settle: Settle;
  readonly #log: Logger;
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(settle: Settle, log: Logger) {
    this.#settle = settle;
    this.#log = log;
  }

  /** An operation on app/name failed: settle its record once the operation is off the books. */
  schedule(app: string, name: string): void {
    this.#later(app, name, Date.now(), 0, 0);
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #later(app: string, name: string, failedAt: number, attempt: number, delayMs: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#attempt(app, name, failedAt, attempt);
    }, delayMs);
    timer.unref();
    this.#timers.add(timer);
  }

  #attempt(app: string, name: string, failedAt: number, attempt: number): void {
    this.#settle(app, name, failedAt).catch((error: unknown) => {
      if (this.#stopped) return;
      if (attempt + 1 >= ATTEMPTS) {
        this.#log.warn({ app, name, err: String(error) }, "gave up settling a failed operation");
        return;
      }
      const delayMs = Math.min(FIRST_RETRY_MS * 2 ** attempt, LONGEST_RETRY_MS);
      this.#later(app, name, failedAt, attempt + 1, delayMs);
    });
  }
}
