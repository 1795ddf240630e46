/**
 * When the process was last used, for scale to zero. Only the process sees its direct
 * invocations and client connections, so it keeps the account: an invocation or an open client
 * connection keeps it busy while it lasts, a message counts as a use, and once nothing kept it
 * busy for `idleMs` the process reports itself idle (again every `idleMs` while it stays so:
 * the control plane may have been unable to swap it the first time).
 *
 * Uses only update a counter and a time; one timer checks, so the hot path never touches it.
 */
/** How often a busy process looks whether it went idle. */
const BUSY_CHECK_MS = 1_000;

export class IdleTracker {
  readonly #idleMs: number;
  #busy = 0;
  #lastUse = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #onIdle: (() => void) | undefined;

  /** `idleMs` 0: never idle. */
  constructor(idleMs: number) {
    this.#idleMs = idleMs;
  }

  /** Starts checking; `onIdle` runs once the process is idle, and again while it stays idle. */
  start(onIdle: () => void): void {
    if (this.#idleMs === 0) return;
    this.#onIdle = onIdle;
    this.#schedule(this.#idleMs);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#onIdle = undefined;
  }

  /** Something that keeps the process busy while it lasts; call the answer when it ends. */
  begin(): () => void {
    this.#busy++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#busy--;
      this.touch();
    };
  }

  /** As `begin`, for a caller that ends each use exactly once (`leave`), with no closure. */
  enter(): void {
    this.#busy++;
  }

  leave(): void {
    this.#busy--;
    this.touch();
  }

  /** A use that ends at once (a message delivered). */
  touch(): void {
    this.#lastUse = Date.now();
  }

  /** Nothing used the process for its idle time (never true when the idle time is 0). */
  get idle(): boolean {
    return this.#idleMs > 0 && this.#busy === 0 && this.#unusedMs() >= this.#idleMs;
  }

  /** When the last use ended; undefined while something keeps the process busy. */
  get idleSince(): number | undefined {
    return this.#busy === 0 ? this.#lastUse : undefined;
  }

  #unusedMs(): number {
    return Date.now() - this.#lastUse;
  }

  #schedule(delayMs: number): void {
    if (this.#onIdle === undefined) return;
    this.#timer = setTimeout(() => this.#check(), Math.max(1, delayMs));
    this.#timer.unref();
  }

  #check(): void {
    if (this.idle) {
      this.#onIdle?.();
      this.#schedule(this.#idleMs);
    } else {
      // Busy: look again soon (at most a second late); else when the idle time runs out.
      const left =
        this.#busy > 0 ? Math.min(this.#idleMs, BUSY_CHECK_MS) : this.#idleMs - this.#unusedMs();
      this.#schedule(left);
    }
  }
}
