/**
 * Deadlines that all share one timeout (the calls of one process): the first added is always
 * the first due, so one timer serves them all instead of one timer per call. An item removed
 * before its deadline leaves the timer to fire early and re-arm for the next.
 */
export class SharedDeadlines<T> {
  /** Each item and when it is due (Date.now() ms), in the order they were added. */
  readonly #due = new Map<T, number>();
  #timer: NodeJS.Timeout | undefined;

  /** `onDue`: the item's deadline passed (it is no longer tracked). */
  constructor(readonly onDue: (item: T) => void) {}

  /** Tracks `item`, due `timeoutMs` from now. */
  add(item: T, timeoutMs: number): void {
    this.#due.set(item, Date.now() + timeoutMs);
    this.#arm();
  }

  delete(item: T): void {
    this.#due.delete(item);
  }

  clear(): void {
    this.#due.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    const first = this.#due.values().next();
    if (first.done === true) return;
    const ms = Math.max(0, first.value - Date.now());
    // Unref'd: once its items are gone it may still be set, and must not hold a stopping process.
    this.#timer = setTimeout(() => this.#expire(), ms).unref();
  }

  #expire(): void {
    this.#timer = undefined;
    const now = Date.now();
    for (const [item, due] of this.#due) {
      if (due > now) break;
      this.#due.delete(item);
      this.onDue(item);
    }
    this.#arm();
  }
}
