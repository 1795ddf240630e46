/**
 * Noticing that a process failed (its exit, a lost control link, an endpoint refusing
 * connections) and marking its record failed, later when the store is unreachable now.
 */
import type { ExitInfo } from "../../backends/index.js";
import type { ProcessRecord } from "../../storage/index.js";
import { transition } from "../lifecycle.js";
import type { ManagerDeps } from "./deps.js";
import { storeUnreachable } from "./errors.js";
import { failedPatch } from "./patches.js";
import type { UnrecordedEnds } from "./unrecorded-ends.js";

/** How long a lost control link may stay lost before the process counts as failed. */
const LOST_GRACE_MS = 500;

export type FailureDeps = Pick<ManagerDeps, "store" | "links" | "cluster" | "log">;

export class Failures {
  readonly #deps: FailureDeps;
  readonly #unrecorded: UnrecordedEnds;
  readonly #shuttingDown: () => boolean;

  constructor(deps: FailureDeps, unrecorded: UnrecordedEnds, shuttingDown: () => boolean) {
    this.#deps = deps;
    this.#unrecorded = unrecorded;
    this.#shuttingDown = shuttingDown;
  }

  /** The backend reports that a process ended: it failed, if its record still says active. */
  exited(exit: ExitInfo): void {
    const { app, name, backendId } = exit;
    const reason = `process exited unexpectedly (code ${exit.code}, signal ${exit.signal})`;
    this.#markFailedLater(app, name, reason, () => this.markFailed(app, name, reason, backendId));
  }

  /** See ProcessManager.markFailed. */
  async markFailed(app: string, name: string, reason: string, backendId?: string): Promise<void> {
    if (this.#shuttingDown()) return; // we are stopping them ourselves
    const record = await this.#deps.store.getProcess(app, name);
    if (
      record?.status !== "active" ||
      (backendId && record.backendId && record.backendId !== backendId)
    )
      return;
    this.#deps.log.warn({ app, name, reason }, "process failed");
    await transition(this.#deps.store, app, name, ["active"], "failed", failedPatch(reason)).catch(
      (error: unknown) => {
        if (storeUnreachable(error)) throw error; // else the record moved on: nothing to mark
      },
    );
  }

  /** See ProcessManager.linkLost. */
  linkLost(app: string, name: string): void {
    setTimeout(() => {
      if (this.#deps.links.has(app, name)) return;
      this.#markFailedLater(app, name, "control link lost", () =>
        this.#markFailedIfHere(app, name),
      );
    }, LOST_GRACE_MS).unref();
  }

  /** See ProcessManager.failUnreachable. */
  async failUnreachable(seen: ProcessRecord, why: string): Promise<void> {
    const { app, name } = seen;
    const record = await this.#deps.store.getProcess(app, name);
    if (record?.status !== "active" || record.connection?.token !== seen.connection?.token) return;
    if (await this.#deps.cluster.linked(record)) return;
    const reason = `not connected and its endpoint refuses connections: ${why}`;
    await this.markFailed(app, name, reason, record.backendId);
  }

  /** Marks failed a process whose link was last held here (not one that moved to a peer). */
  async #markFailedIfHere(app: string, name: string): Promise<void> {
    // Also when retried after a store outage: a process that registered again lives.
    if (this.#deps.links.has(app, name)) return;
    const record = await this.#deps.store.getProcess(app, name);
    if (record?.replica !== undefined && record.replica !== this.#deps.cluster.id) {
      this.#deps.log.info({ app, name, replica: record.replica }, "control link moved");
      return;
    }
    await this.markFailed(app, name, "control link lost");
  }

  /**
   * `mark` (a markFailed) from an event handler: nobody awaits it, so a store failure is logged
   * here, and while the store is unreachable the death is recorded once it answers again:
   * nothing else would ever notice it (the sweeps look only at records of replicas gone).
   */
  #markFailedLater(app: string, name: string, reason: string, mark: () => Promise<void>): void {
    mark().catch((error: unknown) => {
      this.#deps.log.warn(
        { app, name, reason, err: String(error) },
        "could not mark process failed",
      );
      if (storeUnreachable(error)) {
        this.#unrecorded.recordLater(app, name, { swapped: false, write: mark });
      }
    });
  }
}
