/**
 * What this replica learnt of a process but could not record because the store was
 * unreachable (its death, or the swap-out it reported), by app/name: written once the store
 * answers again. Without it the record would say active for good.
 */
import type { Logger } from "pino";
import type { LeftoverSettler } from "../leftovers.js";
import { storeUnreachable } from "./errors.js";

/** A record update to write once the store answers again. */
export interface UnrecordedEnd {
  /** The process reported its own swap-out (else: it died). */
  swapped: boolean;
  /** Reads the record and writes the update if it still applies; rejects while the store is down. */
  write(): Promise<void>;
}

export class UnrecordedEnds {
  readonly #pending = new Map<string, UnrecordedEnd>();
  readonly #leftovers: Pick<LeftoverSettler, "schedule">;
  readonly #log: Logger;
  readonly #shuttingDown: () => boolean;

  constructor(
    leftovers: Pick<LeftoverSettler, "schedule">,
    log: Logger,
    shuttingDown: () => boolean,
  ) {
    this.#leftovers = leftovers;
    this.#log = log;
    this.#shuttingDown = shuttingDown;
  }

  /**
   * Writes `end` once the store answers again, retried with backoff until it does (see the
   * class). A swap-out the process reported outranks its death: it exits right after.
   */
  recordLater(app: string, name: string, end: UnrecordedEnd): void {
    const id = `${app}/${name}`;
    const pending = this.#pending.get(id);
    if (pending?.swapped && !end.swapped) return;
    this.#pending.set(id, end);
    if (pending) return; // its retries are under way and will write this one
    this.#leftovers.schedule(app, name, () => this.#write(id), Infinity);
  }

  /**
   * Writes what is pending for `id`; throws (to be retried) only while the store is
   * unreachable: any other failure (e.g. the process was deleted meanwhile) would fail again.
   */
  async #write(id: string): Promise<void> {
    for (let end = this.#pending.get(id); end; end = this.#pending.get(id)) {
      if (this.#shuttingDown()) return;
      await end.write().catch((error: unknown) => {
        if (storeUnreachable(error)) throw error;
        this.#log.warn({ process: id, err: String(error) }, "could not record a process's end");
      });
      // A newer end that arrived during the write is written on the next turn of the loop.
      if (this.#pending.get(id) === end) this.#pending.delete(id);
    }
  }
}
