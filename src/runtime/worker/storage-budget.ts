/**
 * What one invocation may still store in the process's state, as the process counted it when it
 * sent the invocation. Puts are not awaited (they go to the process and the function runs on),
 * so a put over the budget is refused here, in the function that made it. Other workers may
 * store meanwhile: the process then refuses the put itself, and that refusal fails the
 * invocation's next put or its result. Near the budget the invocation waits for the process's
 * answers to its puts before it returns, so a refused put is never silently lost.
 */
import { PraaSError } from "../../protocol/index.js";

export class StorageBudget {
  #free: number;
  #failure: PraaSError | undefined;
  #unacknowledged: Promise<unknown>[] = [];

  /**
   * @param free bytes the process could still store when the invocation started
   * @param tightBelow with less than this left, wait for the answers to every put at the end
   */
  constructor(
    free: number,
    readonly tightBelow: number,
  ) {
    this.#free = free;
  }

  /** Takes `growth` bytes for a put; rejects with STATE_FULL when they are not there. */
  reserve(growth: number): void {
    if (this.#failure) throw this.#failure;
    if (growth > this.#free) {
      throw new PraaSError(
        "STATE_FULL",
        `state is full: this put needs ${growth} more bytes and the process has ${this.#free} left for state and messages`,
      );
    }
    this.#free -= Math.max(0, growth);
  }

  /** Watches a put sent to the process: its STATE_FULL refusal belongs to this invocation. */
  track(sent: Promise<unknown>): void {
    this.#unacknowledged.push(sent);
    sent.catch((error: unknown) => {
      if (error instanceof PraaSError && error.code === "STATE_FULL") this.#failure ??= error;
    });
  }

  /**
   * Before the invocation returns: the first refusal of one of its puts, if any. With `all`
   * (or near the budget) it waits for the process's answer to every put first.
   */
  async settle(all = false): Promise<void> {
    const wait = all ? this.#unacknowledged.length > 0 : this.#free < this.tightBelow;
    if (wait) await Promise.allSettled(this.#unacknowledged);
    if (this.#failure) throw this.#failure;
  }
}
