/**
 * Process lifecycle: create, swap, resume, delete, and noticing failures. Every status change
 * goes through the state machine in lifecycle.ts; every command to a process goes over its
 * control link; processes run wherever the backend puts them.
 *
 * This class is the lifecycle's public face: it queues the operations on a process one after
 * another and wires together the parts in processes/, one file per concern.
 */
import { PraaSError, type CreateProcessBody, type SwapReason } from "../protocol/index.js";
import type { ProcessRecord, Resources } from "../storage/index.js";
import type { Registration } from "./control-link-server.js";
import { LeftoverSettler } from "./leftovers.js";
import { getProcessOrThrow } from "./lifecycle.js";
import { Registrations } from "./registrations.js";
import { createProcess } from "./processes/create.js";
import { deleteProcess, finishDeletion } from "./processes/delete.js";
import type { ManagerDeps } from "./processes/deps.js";
import { lostRace } from "./processes/errors.js";
import { Failures } from "./processes/failures.js";
import { Launcher } from "./processes/launch.js";
import { Operations } from "./processes/operations.js";
import { Reconciler } from "./processes/reconcile.js";
import { reconnected } from "./processes/reconnect.js";
import { swappedItself } from "./processes/self-swap.js";
import { stopLinked } from "./processes/shutdown.js";
import { SETTLED, TRANSITIONAL } from "./processes/statuses.js";
import { swapIn } from "./processes/swap-in.js";
import { swapOut } from "./processes/swap-out.js";
import { Sweeper } from "./processes/sweeper.js";
import { UnrecordedEnds } from "./processes/unrecorded-ends.js";
import { waitForStatus } from "./processes/wait-for-status.js";

export type { ManagerDeps };
export { waitForStatus };

export class ProcessManager {
  readonly registrations: Registrations;
  readonly #deps: ManagerDeps;
  #shuttingDown = false;
  readonly #operations: Operations;
  readonly #leftovers: LeftoverSettler;
  readonly #launcher: Launcher;
  readonly #reconciler: Reconciler;
  readonly #failures: Failures;
  readonly #unrecorded: UnrecordedEnds;
  readonly #sweeper: Sweeper;

  constructor(deps: ManagerDeps) {
    this.#deps = deps;
    this.registrations = new Registrations(deps.store);
    const shuttingDown = () => this.#shuttingDown;
    this.#leftovers = new LeftoverSettler(
      (app, name, failedAt) => this.#reconciler.settleLeftover(app, name, failedAt),
      deps.log,
    );
    this.#operations = new Operations(this.#leftovers);
    this.#launcher = new Launcher(deps, this.registrations);
    this.#reconciler = new Reconciler(deps, this.#operations, shuttingDown);
    this.#unrecorded = new UnrecordedEnds(this.#leftovers, deps.log, shuttingDown);
    this.#failures = new Failures(deps, this.#unrecorded, shuttingDown);
    this.#sweeper = new Sweeper(deps, this.#reconciler, this.#failures, shuttingDown);
    deps.backend.onExit((exit) => this.#failures.exited(exit));
  }

  create(app: string, name: string, body: CreateProcessBody, auto = false): Promise<ProcessRecord> {
    const request = { app, name, body, auto };
    return createProcess(this.#deps, this.#operations, this.#launcher, request);
  }

  /**
   * Swaps a process out. When the process could not store its state (it answers STORAGE_ERROR
   * and stays up, serving) the record goes back to active with its connection; when the
   * command failed otherwise, the record follows what is left (see settleSwap in
   * processes/swap-out.ts). An idle swap-out is refused by a process used since it reported
   * itself idle: it stays active.
   */
  swap(app: string, name: string, reason: SwapReason = "request"): Promise<ProcessRecord> {
    const work = () => this.#swap(app, name, reason);
    const metrics = this.#deps.metrics;
    return metrics ? metrics.swap(app, "out", work, (r) => r.stateSize ?? 0) : work();
  }

  /**
   * Resumes a swapped or failed process: from its stored state (a failed one that was never
   * swapped starts empty), plus, under `log` durability, its write-ahead log. The stored state
   * is kept: a resume that fails leaves the record as it was, to be resumed again, and after a
   * crash the process comes back from it (under `log`, with its log replayed over it). The next
   * swap replaces it; deleting the process removes it.
   */
  resume(app: string, name: string): Promise<ProcessRecord> {
    return this.#resume(app, name, false);
  }

  /**
   * Moves an active process to its application's current version: swapped out (state and
   * undelivered messages stored), then resumed on the new code. Swapped and failed processes
   * run the current version when they next start, so they are left as they are. When the new
   * code cannot start (it fails to load, or to fit the process's memory), the process is resumed
   * on the version it ran, so that it serves on, and the upgrade fails with the start's error.
   */
  async upgrade(app: string, name: string): Promise<ProcessRecord> {
    const { store } = this.#deps;
    const record = await getProcessOrThrow(store, app, name);
    const appRecord = await store.getApp(app);
    if (!appRecord) throw new PraaSError("APP_NOT_FOUND", `no application ${app}`);
    if (record.status !== "active" || record.version === appRecord.version) return record;
    await this.swap(app, name);
    try {
      // A call may have resumed it first, on the current version: then it has moved already.
      return await this.#resume(app, name, true);
    } catch (error) {
      await this.#resumeOn(app, name, record.version);
      throw error;
    }
  }

  /**
   * After a failed upgrade: the process back on the version it ran. Not when that version is
   * no longer kept, or something else resumed or removed the process meanwhile (then this
   * refuses, and the upgrade's own error says what happened).
   */
  async #resumeOn(app: string, name: string, version: number | undefined): Promise<void> {
    if (version === undefined) return;
    try {
      await this.#resume(app, name, false, version);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#deps.log.warn(
        { app, process: name, version, err: reason },
        "could not resume on the version it ran",
      );
    }
  }

  /**
   * Active already, or resumed (from swapped or failed), or (while another call resumes,
   * allocates or swaps it) waited for, then resumed if that left it swapped. A resume that
   * fails answers with its own error at once; one that lost a race (another resume, a swap
   * that began or ended meanwhile, here or at another replica) looks again, until `timeoutMs`.
   */
  async ensureActive(app: string, name: string, timeoutMs: number): Promise<ProcessRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let record = await getProcessOrThrow(this.#deps.store, app, name);
      // A transition in progress may end anywhere (a swap can fail back to active, a restarted
      // control plane reconciles a resume back to swapped): wait for it to end, then decide.
      if (TRANSITIONAL.has(record.status)) {
        record = await this.#waitSettled(app, name, Math.max(deadline - Date.now(), 1));
      }
      if (record.status === "active") return record;
      if (record.status !== "swapped" && record.status !== "failed") {
        throw new PraaSError("INVALID_STATE", `process ${app}/${name} is ${record.status}`);
      }
      try {
        return await this.#resume(app, name, true);
      } catch (error) {
        if (!lostRace(error) || Date.now() >= deadline) throw error;
      }
    }
  }

  /**
   * Deletes a process; one that is still running (active, or failed but alive) is stopped. A
   * delete cut short once its record says deleted (the store down) is finished as soon as the
   * store answers again.
   */
  delete(app: string, name: string): Promise<void> {
    return deleteProcess(this.#deps, app, name, () =>
      this.#leftovers.schedule(app, name, (a, n, failedAt) =>
        finishDeletion(this.#deps, a, n, failedAt),
      ),
    );
  }

  /**
   * Deletes a process once it rests: one caught mid-operation (being created, swapped or
   * resumed) is waited for, up to the start timeout, instead of refused. For an application's
   * delete, which must not stop halfway because of operations that are not its caller's.
   */
  async deleteWhenSettled(app: string, name: string): Promise<void> {
    const deadline = Date.now() + this.#deps.config.startTimeoutMs;
    for (;;) {
      const record = await this.#deps.store.getProcess(app, name);
      if (record === undefined) return;
      if (!TRANSITIONAL.has(record.status)) {
        const deleted = await this.delete(app, name).then(() => true, goneOrRefused);
        if (deleted) return;
      }
      if (Date.now() >= deadline) return this.delete(app, name);
      // Settled, failed, deleted or gone: the next round looks again.
      await this.#waitSettled(app, name, Math.max(deadline - Date.now(), 1)).catch(() => undefined);
    }
  }

  /**
   * Marks a live process failed (no-op when it is not live, e.g. it was swapped or stopped).
   * Rejects only when the store is unreachable, so that the caller can try again later.
   */
  markFailed(app: string, name: string, reason: string, backendId?: string): Promise<void> {
    return this.#failures.markFailed(app, name, reason, backendId);
  }

  /**
   * A control link closed: unless the process registers again at once (here, or at another
   * replica: then it moved, it did not fail), it failed.
   */
  linkLost(app: string, name: string): void {
    this.#failures.linkLost(app, name);
  }

  /**
   * A sticky call found the endpoint of a process recorded as active refusing connections. If
   * no replica holds its control link either, it is gone without its death having been
   * recorded, so it is marked failed now and the caller resumes it as any failed process (a
   * process that is only re-dialling its control link still serves, so it is never refused).
   */
  failUnreachable(seen: ProcessRecord, why: string): Promise<void> {
    return this.#failures.failUnreachable(seen, why);
  }

  /**
   * After a control-plane restart (called once the reconnect grace is over): processes recorded
   * as active that never dialled back are gone (an orphaned process swaps itself out first, so
   * `resume` can bring its state back), and records left mid-operation by the crash are
   * reconciled. From then on, records stuck mid-operation longer than any operation may take
   * (another replica died during it) are reconciled periodically.
   */
  sweepUnreachable(): Promise<void> {
    return this.#sweeper.afterRestart();
  }

  /**
   * The process swapped itself out (a signal told it to stop) and exits next: record it as
   * swapped so it resumes on demand. A swap we started ourselves records that on its own. While
   * the store is unreachable, it is recorded once the store answers again (the link that
   * carried the report is gone by then).
   */
  swappedItself(app: string, name: string, size: number): Promise<void> {
    return swappedItself(this.#deps, this.#unrecorded, app, name, size);
  }

  /**
   * A registration nobody here waited for: a process reconnecting (after a control-plane
   * restart, or from a replica that died), or one another replica started whose link landed
   * here. The record now names this replica as holding the link.
   */
  reconnected(registration: Registration): Promise<void> {
    return reconnected(this.#deps, this.registrations, registration);
  }

  /**
   * Stops every live process this replica can reach: swapped out when state can outlive us. A
   * process whose state could not be swapped out (a full disk) is left running with it rather
   * than stopped: it re-dials the control plane, which finds it again once restarted.
   */
  async shutdown(persist: boolean): Promise<void> {
    this.#shuttingDown = true;
    this.#sweeper.stop();
    this.#leftovers.stop();
    let kept = new Set<string>();
    try {
      kept = await stopLinked(
        this.#deps,
        (app, name, reason) => this.swap(app, name, reason),
        persist,
      );
    } catch (error) {
      // E.g. Redis is down: the backend still stops every child, and a process told to stop
      // by a signal swaps its state out by itself, so nothing is stranded.
      this.#deps.log.warn({ err: String(error) }, "could not stop processes over their links");
    }
    await this.#deps.backend.shutdown(kept);
  }

  /** A swap-out queued behind this replica's other operations on the process. */
  #swap(app: string, name: string, reason: SwapReason): Promise<ProcessRecord> {
    return this.#operations.exclusive(app, name, () => swapOut(this.#deps, app, name, reason));
  }

  /**
   * A resume queued behind this replica's other operations on the process. With `unlessActive`
   * (a call that only needs the process active), a process that an operation queued earlier
   * already resumed is used as it is, instead of refusing to resume an active process. With
   * `version`, it resumes on that kept version of the application instead of the current one.
   */
  async #resume(
    app: string,
    name: string,
    unlessActive: boolean,
    version?: number,
  ): Promise<ProcessRecord> {
    await getProcessOrThrow(this.#deps.store, app, name);
    return this.#operations.exclusive(app, name, async () => {
      // Read again once it is our turn: the status seen when this resume was queued may be an
      // earlier operation's (e.g. "resuming"), and it decides below whether to restore and
      // where a failure goes back to (a stale "not failed" made a failed process "swapped"
      // without any snapshot, unresumable for good).
      const record = await getProcessOrThrow(this.#deps.store, app, name);
      if (unlessActive && record.status === "active") return record;
      const work = () => swapIn(this.#deps, this.#launcher, record, version);
      const metrics = this.#deps.metrics;
      return metrics ? metrics.swap(app, "in", work, () => record.stateSize ?? 0) : work();
    });
  }

  #waitSettled(app: string, name: string, timeoutMs: number): Promise<ProcessRecord> {
    return waitForStatus(this.#deps.store, app, name, SETTLED, timeoutMs);
  }
}

/**
 * A delete that failed because the process went meanwhile (true: nothing left to delete) or an
 * operation began since its record was read (false: wait for it); any other failure is thrown.
 */
function goneOrRefused(error: unknown): boolean {
  if (!(error instanceof PraaSError)) throw error;
  if (error.code === "PROCESS_NOT_FOUND") return true;
  if (error.code === "INVALID_STATE") return false;
  throw error;
}

export type { Resources };
