/**
 * Records left mid-operation (allocating, swapping, resuming, or deleted by a delete that did
 * not end) by an operation that is gone: a crashed replica's, or one of this replica's whose
 * last store write failed.
 */
import type { ProcessRecord } from "../../storage/index.js";
import { transition } from "../lifecycle.js";
import { snapshotKey } from "../records.js";
import type { ManagerDeps } from "./deps.js";
import { finishDeletion } from "./delete.js";
import type { Operations } from "./operations.js";
import { failedPatch } from "./patches.js";
import { TRANSITIONAL } from "./statuses.js";
import { stopProcess } from "./stop.js";
import { settleSwap } from "./swap-out.js";

export type ReconcileDeps = Pick<ManagerDeps, "store" | "blobs" | "backend" | "cluster" | "log">;

export class Reconciler {
  readonly #deps: ReconcileDeps;
  readonly #operations: Operations;
  readonly #shuttingDown: () => boolean;

  constructor(deps: ReconcileDeps, operations: Operations, shuttingDown: () => boolean) {
    this.#deps = deps;
    this.#operations = operations;
    this.#shuttingDown = shuttingDown;
  }

  /**
   * A record an operation that failed at `failedAt` left mid-way, reconciled; not one a later
   * operation wrote (e.g. a create of the same name whose operation is not on the books yet).
   */
  async settleLeftover(app: string, name: string, failedAt: number): Promise<void> {
    if (this.#shuttingDown() || this.#operations.has(app, name)) return;
    const record = await this.#deps.store.getProcess(app, name);
    if (record && TRANSITIONAL.has(record.status) && record.updatedAt <= failedAt) {
      await this.reconcile(record);
    }
  }

  /**
   * A record left in allocating/swapping/resuming by an operation that is gone, moved to a
   * status the user can go on from. Operations this replica is running are left alone.
   */
  async reconcile(record: ProcessRecord): Promise<void> {
    const { app, name, status } = record;
    if (this.#operations.has(app, name)) return;
    this.#deps.log.warn({ app, name, status }, "reconciling a process left mid-operation");
    if (status === "deleted") return finishDeletion(this.#deps, app, name, record.updatedAt);
    if (status === "swapping") return settleSwap(this.#deps, app, name, "swap interrupted");
    // A start that registered but was never recorded: nobody could manage or stop that process.
    if (await this.#deps.cluster.linked(record)) await stopProcess(this.#deps, record);
    if (status === "resuming" && (await this.#deps.blobs.stat(snapshotKey(app, name)))) {
      await transition(this.#deps.store, app, name, ["resuming"], "swapped");
      return;
    }
    const reason = `${status === "allocating" ? "allocation" : "resume"} interrupted`;
    await transition(this.#deps.store, app, name, [status], "failed", failedPatch(reason));
  }
}
