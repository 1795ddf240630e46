/**
 * The sweeps over every process record: once after a control-plane restart (processes that
 * never dialled back, records the crash left mid-operation), then periodically (operations
 * stuck longer than any may take, active records whose replica is gone).
 */
import type { ProcessStatus } from "../../protocol/index.js";
import type { ProcessRecord } from "../../storage/index.js";
import type { ManagerDeps } from "./deps.js";
import type { Failures } from "./failures.js";
import type { Reconciler } from "./reconcile.js";
import { TRANSITIONAL } from "./statuses.js";
import { SWAP_COMMAND_TIMEOUT_MS } from "./swap-out.js";

/** What a stale record may be left in by an operation that is gone: a delete's too. */
const LEFT_MID_WAY: ReadonlySet<ProcessStatus> = new Set([...TRANSITIONAL, "deleted"]);

export type SweepDeps = Pick<ManagerDeps, "store" | "cluster" | "config" | "log">;

export class Sweeper {
  readonly #deps: SweepDeps;
  readonly #reconciler: Pick<Reconciler, "reconcile">;
  readonly #failures: Pick<Failures, "markFailed">;
  readonly #shuttingDown: () => boolean;
  readonly #startedAt = Date.now();
  /**
   * Active records whose replica was gone at the last periodic sweep, by app/name, with the
   * revision seen then: marked failed only if still so, unchanged, a whole sweep later (a
   * replica whose heartbeat lapsed during a short store outage announces itself again first).
   */
  readonly #orphans = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    deps: SweepDeps,
    reconciler: Pick<Reconciler, "reconcile">,
    failures: Pick<Failures, "markFailed">,
    shuttingDown: () => boolean,
  ) {
    this.#deps = deps;
    this.#reconciler = reconciler;
    this.#failures = failures;
    this.#shuttingDown = shuttingDown;
  }

  /** See ProcessManager.sweepUnreachable. */
  async afterRestart(): Promise<void> {
    await this.#sweepLogged((record) => record.updatedAt < this.#startedAt, true);
    this.#deps.log.debug("swept processes left by a restart");
    this.#scheduleReconcile();
  }

  /** Ends the periodic sweeps (at shutdown). */
  stop(): void {
    clearTimeout(this.#timer);
  }

  /** A sweep runs from a timer: its failure (e.g. the store closing at shutdown) is logged. */
  async #sweepLogged(
    stale: (record: ProcessRecord) => boolean,
    unreachable: boolean,
  ): Promise<void> {
    try {
      await this.#sweep(stale, unreachable);
    } catch (error) {
      if (!this.#shuttingDown()) this.#deps.log.warn({ err: String(error) }, "sweep failed");
    }
  }

  /**
   * Reconciles stale records left mid-operation; with `unreachable`, also marks failed the stale
   * active records (active before this replica started) whose process never dialled back.
   */
  async #sweep(stale: (record: ProcessRecord) => boolean, unreachable: boolean): Promise<void> {
    const { store } = this.#deps;
    for (const app of await store.listApps()) {
      for (const record of await store.listProcesses(app.name)) {
        if (record.status === "active") {
          await this.#sweepActive(record, unreachable && stale(record));
        } else if (LEFT_MID_WAY.has(record.status) && stale(record)) {
          await this.#reconciler
            .reconcile(record)
            .catch((error: unknown) =>
              this.#deps.log.warn(
                { app: record.app, name: record.name, err: String(error) },
                "reconcile failed",
              ),
            );
        }
      }
    }
  }

  /**
   * An active record nobody holds a link to: after a restart of this replica (`restarted`) when
   * no live replica holds its link, or at any time when the replica that held it is gone and
   * the process did not register with a live one since.
   */
  async #sweepActive(record: ProcessRecord, restarted: boolean): Promise<void> {
    const { cluster } = this.#deps;
    const id = `${record.app}/${record.name}`;
    if (await cluster.linked(record)) return void this.#orphans.delete(id);
    if (restarted) {
      await this.#failures.markFailed(
        record.app,
        record.name,
        "did not reconnect after a control-plane restart",
      );
    } else if (!(await cluster.ownerGone(record))) {
      this.#orphans.delete(id);
    } else if (this.#orphans.get(id) !== record.revision) {
      this.#orphans.set(id, record.revision); // first seen: give it one more sweep
    } else {
      this.#orphans.delete(id);
      const reason = `its control-plane replica ${record.replica} is gone and it did not reconnect`;
      await this.#failures.markFailed(record.app, record.name, reason);
    }
  }

  #scheduleReconcile(): void {
    if (this.#shuttingDown()) return;
    const { config } = this.#deps;
    const stuckAfterMs = config.startTimeoutMs + SWAP_COMMAND_TIMEOUT_MS + config.reconnectGraceMs;
    this.#timer = setTimeout(() => {
      // Only stuck operations: a live process linked to another replica is none of ours.
      void this.#sweepLogged((record) => Date.now() - record.updatedAt > stuckAfterMs, false).then(
        () => this.#scheduleReconcile(),
      );
    }, config.reconnectGraceMs);
    this.#timer.unref();
  }
}
