/**
 * The create, swap or resume running in this replica, by app/name: the next one waits for it
 * (a swap never overlaps the end of a resume), and reconciliation leaves these records alone.
 */
import type { LeftoverSettler } from "../leftovers.js";

export class Operations {
  readonly #running = new Map<string, Promise<unknown>>();
  readonly #leftovers: Pick<LeftoverSettler, "schedule">;

  constructor(leftovers: Pick<LeftoverSettler, "schedule">) {
    this.#leftovers = leftovers;
  }

  /** Whether this replica runs an operation on app/name now. */
  has(app: string, name: string): boolean {
    return this.#running.has(`${app}/${name}`);
  }

  /** Runs a create/swap/resume after any other one on the same process in this replica. */
  async exclusive<T>(app: string, name: string, work: () => Promise<T>): Promise<T> {
    const id = `${app}/${name}`;
    const current = (this.#running.get(id) ?? Promise.resolve()).then(work, work);
    const settled = current.catch(() => undefined);
    this.#running.set(id, settled);
    try {
      return await current;
    } catch (error) {
      this.#leftovers.schedule(app, name); // its last store write may have failed too
      throw error;
    } finally {
      if (this.#running.get(id) === settled) this.#running.delete(id);
    }
  }
}
