/**
 * What one invocation may still store in the process's state, as the process counted it when it
 * sent the invocation. Puts are not awaited (they go to the process and the function runs on),
 * so a put that surely does not fit is refused here, in the function that made it. The count is
 * only known to within `slack` bytes (the process tells workers of a change in steps, not of
 * every byte), so a put too close to the edge to tell waits for the process's answer instead.
 * Other workers may store meanwhile: the process then refuses the put itself, and that refusal
 * fails the invocation's next put or its result. Near the budget the invocation waits for the
 * process's answers to its puts before it returns, so a refused put is never silently lost.
 */
import { PraaSError } from "../../protocol/index.js";

/** How a put stands against the budget. */
export type Reservation = "fits" | "ask";

export class StorageBudget {
  #free: number;
  #failure: PraaSError | undefined;
  /** Puts sent and not answered yet; an answered one leaves, so a long loop of puts holds none. */
  readonly #unacknowledged = new Set<Promise<unknown>>();

  /**
   * @param free bytes the process could still store when the invocation started
   * @param tightBelow with less than this left, wait for the answers to every put at the end
   * @param slack how far `free` may be from the process's own count
   */
  constructor(
    free: number,
    readonly tightBelow: number,
    readonly slack = 0,
  ) {
    this.#free = free;
  }

  /**
   * Takes `growth` bytes for a put: "fits" when it does whatever the exact count, "ask" when
   * only the process can tell (the put must wait for its answer); rejects with STATE_FULL
   * when it cannot fit even so.
   */
  reserve(growth: number): Reservation {
    if (this.#failure) throw this.#failure;
    if (growth > this.#free + this.slack) {
      throw new PraaSError(
        "STATE_FULL",
        `state is full: this put needs ${growth} more bytes and the process has ${this.#free} left for state and messages`,
      );
    }
    if (growth <= 0) return "fits";
    this.#free -= growth;
    return this.#free >= this.slack ? "fits" : "ask";
  }

  /**
   * Watches a put sent to the process. The STATE_FULL refusal of one nobody awaits belongs to
   * this invocation (its next put or its result fails); an awaited one is its caller's alone.
   */
  track(sent: Promise<unknown>, awaited = false): void {
    this.#unacknowledged.add(sent);
    const answered = (): void => void this.#unacknowledged.delete(sent);
    sent.then(answered, answered);
    if (awaited) return;
    sent.catch((error: unknown) => {
      if (error instanceof PraaSError && error.code === "STATE_FULL") this.#failure ??= error;
    });
  }

  /**
   * Before the invocation returns: the first refusal of one of its puts, if any. With `all`
   * (or near the budget) it waits for the process's answer to every put first.
   */
  async settle(all = false): Promise<void> {
    const wait = all ? this.#unacknowledged.size > 0 : this.#free - this.slack < this.tightBelow;
    if (wait) await Promise.allSettled(this.#unacknowledged);
    if (this.#failure) throw this.#failure;
  }
}
