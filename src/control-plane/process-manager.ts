/**
 * Process lifecycle: create, swap, resume, delete, and noticing failures. Every status change
 * goes through the state machine in lifecycle.ts; every command to a process goes over its
 * control link; processes run wherever the backend puts them.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import {
  NO_PERMISSIONS,
  PraaSError,
  parseDuration,
  parseDurability,
  type ConnectionInfo,
  type CreateProcessBody,
  type ProcessStatus,
  type SwapReason,
  type SwapReply,
} from "../protocol/index.js";
import type { ProcessBackend, ProcessSpec } from "../backends/index.js";
import type {
  AppRecord,
  BlobStore,
  MetadataStore,
  ProcessPatch,
  ProcessRecord,
  Resources,
} from "../storage/index.js";
import { loadAppBundle } from "./app-service.js";
import type { Cluster } from "./cluster.js";
import { LeftoverSettler } from "./leftovers.js";
import type { ControlPlaneConfig } from "./config.js";
import type { ControlLinkServer, Registration } from "./control-link-server.js";
import { getProcessOrThrow, transition } from "./lifecycle.js";
import type { LifecycleMetrics } from "./lifecycle-metrics.js";
import { snapshotKey } from "./records.js";
import { decodeSnapshotHead } from "../runtime/snapshot.js";
import { Registrations } from "./registrations.js";
import { resolveProcessLimits, resolveResources } from "./resources.js";

export interface ManagerDeps {
  config: ControlPlaneConfig;
  store: MetadataStore;
  blobs: BlobStore;
  backend: ProcessBackend;
  links: ControlLinkServer;
  /** Commands to processes linked to any replica go through it. */
  cluster: Cluster;
  log: Logger;
  /** The control-link address processes dial. */
  controlAddress(): string;
  /** Counts and times swap-outs and resumes. */
  metrics?: LifecycleMetrics;
}

/** How long a lost control link may stay lost before the process counts as failed. */
const LOST_GRACE_MS = 500;
/** How long a swap command may take (drain + write of the whole state). */
const SWAP_COMMAND_TIMEOUT_MS = 120_000;
/** The statuses an operation passes through: a record left in one has lost its operation. */
const TRANSITIONAL: ReadonlySet<ProcessStatus> = new Set(["allocating", "swapping", "resuming"]);

export class ProcessManager {
  readonly registrations: Registrations;
  readonly #deps: ManagerDeps;
  #shuttingDown = false;
  /**
   * The create, swap or resume running in this replica, by app/name: the next one waits for it
   * (a swap never overlaps the end of a resume), and reconciliation leaves these records alone.
   */
  readonly #operations = new Map<string, Promise<unknown>>();
  readonly #startedAt = Date.now();
  /**
   * Active records whose replica was gone at the last periodic sweep, by app/name, with the
   * revision seen then: marked failed only if still so, unchanged, a whole sweep later (a
   * replica whose heartbeat lapsed during a short store outage announces itself again first).
   */
  readonly #orphans = new Map<string, number>();
  #reconcileTimer: NodeJS.Timeout | undefined;
  readonly #leftovers: LeftoverSettler;
  /**
   * What this replica learnt of a process but could not record because the store was
   * unreachable (its death, or the swap-out it reported), by app/name: written once the store
   * answers again. Without it the record would say active for good.
   */
  readonly #unrecorded = new Map<string, UnrecordedEnd>();

  constructor(deps: ManagerDeps) {
    this.#deps = deps;
    this.registrations = new Registrations(deps.store);
    this.#leftovers = new LeftoverSettler(
      (app, name, failedAt) => this.#settleLeftover(app, name, failedAt),
      deps.log,
    );
    deps.backend.onExit((exit) => {
      const { app, name, backendId } = exit;
      const reason = `process exited unexpectedly (code ${exit.code}, signal ${exit.signal})`;
      this.#markFailedLater(app, name, reason, () => this.markFailed(app, name, reason, backendId));
    });
  }

  async create(
    app: string,
    name: string,
    body: CreateProcessBody,
    auto = false,
  ): Promise<ProcessRecord> {
    const { store, config } = this.#deps;
    const appRecord = await store.getApp(app);
    if (!appRecord) throw new PraaSError("APP_NOT_FOUND", `no application ${app}`);
    const resources = resolveResources(body, appRecord.defaults, config);
    const limits = resolveProcessLimits(body, appRecord.defaults);
    const durability = body.durability === undefined ? "memory" : parseDurability(body.durability);
    const idleSwapMs =
      body.idleSwap === undefined ? config.idleSwapMs : parseDuration(body.idleSwap, "idleSwap");
    const now = Date.now();
    const record: ProcessRecord = {
      app,
      name,
      status: "allocating",
      resources,
      limits,
      durability,
      secret: randomBytes(24).toString("base64url"),
      autoAllocated: auto,
      idleSwapMs,
      createdAt: now,
      updatedAt: now,
      revision: 0,
    };
    if (!(await store.createProcess(record))) {
      throw new PraaSError("ALREADY_EXISTS", `process ${app}/${name} already exists`);
    }
    return this.#exclusive(app, name, async () => {
      await this.#dropLeftovers(app, name).catch(async (error: unknown) => {
        await store.deleteProcess(app, name);
        throw error;
      });
      return this.#activate(
        record,
        "allocating",
        false,
        async () => void (await store.deleteProcess(app, name)),
      );
    });
  }

  /**
   * Swaps a process out. When the process could not store its state (it answers STORAGE_ERROR
   * and stays up, serving) the record goes back to active with its connection; when the
   * command failed otherwise, the record follows what is left (see #settleSwap). An idle
   * swap-out is refused by a process used since it reported itself idle: it stays active.
   */
  swap(app: string, name: string, reason: SwapReason = "request"): Promise<ProcessRecord> {
    const work = () => this.#swap(app, name, reason);
    const metrics = this.#deps.metrics;
    return metrics ? metrics.swap(app, "out", work, (r) => r.stateSize ?? 0) : work();
  }

  async #swap(app: string, name: string, reason: SwapReason): Promise<ProcessRecord> {
    const { store, cluster } = this.#deps;
    return this.#exclusive(app, name, async () => {
      const swapId = randomBytes(12).toString("base64url");
      await transition(store, app, name, ["active"], "swapping", { swapId });
      const body = { swapId, ...(reason === "idle" ? { ifIdle: true } : {}) };
      let result: SwapReply;
      try {
        result = await cluster.command(app, name, "swap", body, SWAP_COMMAND_TIMEOUT_MS);
      } catch (error) {
        await this.#settleSwap(app, name, String(error)).catch(() => undefined);
        throw error;
      }
      return transition(store, app, name, ["swapping"], "swapped", {
        stateSize: result.size,
        connection: undefined,
        backendId: undefined,
        swapReason: reason,
        idleSince: result.idleSince,
      });
    });
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
   * A resume queued behind this replica's other operations on the process. With `unlessActive`
   * (a call that only needs the process active), a process that an operation queued earlier
   * already resumed is used as it is, instead of refusing to resume an active process.
   */
  async #resume(app: string, name: string, unlessActive: boolean): Promise<ProcessRecord> {
    await getProcessOrThrow(this.#deps.store, app, name);
    return this.#exclusive(app, name, async () => {
      // Read again once it is our turn: the status seen when this resume was queued may be an
      // earlier operation's (e.g. "resuming"), and it decides below whether to restore and
      // where a failure goes back to (a stale "not failed" made a failed process "swapped"
      // without any snapshot, unresumable for good).
      const record = await getProcessOrThrow(this.#deps.store, app, name);
      if (unlessActive && record.status === "active") return record;
      const work = () => this.#swapIn(record);
      const metrics = this.#deps.metrics;
      return metrics ? metrics.swap(app, "in", work, () => record.stateSize ?? 0) : work();
    });
  }

  async #swapIn(record: ProcessRecord): Promise<ProcessRecord> {
    const { store, blobs } = this.#deps;
    const { app, name, status: from } = record;
    await transition(store, app, name, ["swapped", "failed"], "resuming");
    // An earlier instance that is still alive (cut off, re-dialling) would hold the write-ahead
    // log's claim until told REPLACED; it saves nothing either way, so it goes first.
    if (from === "failed" && record.backendId) {
      await this.#deps.backend.stop(record.backendId).catch(() => undefined);
    }
    const restore = from !== "failed" || (await blobs.stat(snapshotKey(app, name))) !== undefined;
    return this.#activate(record, "resuming", restore, async (error) => {
      // A failed process says why it is still failed: its start's error (e.g. a corrupt log).
      const back = from === "failed" ? { error: `resume failed: ${reasonOf(error)}` } : {};
      await transition(
        store,
        app,
        name,
        ["resuming"],
        from === "failed" ? "failed" : "swapped",
        back,
      ).catch(() => undefined);
    });
  }

  /**
   * Moves an active process to its application's current version: swapped out (state and
   * undelivered messages stored), then resumed on the new code. Swapped and failed processes
   * run the current version when they next start, so they are left as they are.
   */
  async upgrade(app: string, name: string): Promise<ProcessRecord> {
    const { store } = this.#deps;
    const record = await getProcessOrThrow(store, app, name);
    const appRecord = await store.getApp(app);
    if (!appRecord) throw new PraaSError("APP_NOT_FOUND", `no application ${app}`);
    if (record.status !== "active" || record.version === appRecord.version) return record;
    await this.swap(app, name);
    return this.resume(app, name);
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

  /** Deletes a process; one that is still running (active, or failed but alive) is stopped. */
  async delete(app: string, name: string): Promise<void> {
    const { store, blobs } = this.#deps;
    const record = await getProcessOrThrow(store, app, name);
    await transition(store, app, name, ["active", "swapped", "failed"], "deleted", {
      connection: undefined,
    });
    if (record.status === "active") await this.#stop(record);
    if (record.status === "failed") await this.#stopIfAlive(record);
    await blobs.delete(snapshotKey(app, name));
    await this.#deps.backend.deleteLog?.(app, name);
    await store.deleteProcess(app, name);
  }

  /**
   * Marks a live process failed (no-op when it is not live, e.g. it was swapped or stopped).
   * Rejects only when the store is unreachable, so that the caller can try again later.
   */
  async markFailed(app: string, name: string, reason: string, backendId?: string): Promise<void> {
    if (this.#shuttingDown) return; // we are stopping them ourselves
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

  /**
   * A control link closed: unless the process registers again at once (here, or at another
   * replica: then it moved, it did not fail), it failed.
   */
  linkLost(app: string, name: string): void {
    setTimeout(() => {
      if (this.#deps.links.has(app, name)) return;
      this.#markFailedLater(app, name, "control link lost", () =>
        this.#markFailedIfHere(app, name),
      );
    }, LOST_GRACE_MS).unref();
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
      if (storeUnreachable(error)) this.#recordLater(app, name, { swapped: false, write: mark });
    });
  }

  /**
   * Writes `end` once the store answers again, retried with backoff until it does (see
   * #unrecorded). A swap-out the process reported outranks its death: it exits right after.
   */
  #recordLater(app: string, name: string, end: UnrecordedEnd): void {
    const id = `${app}/${name}`;
    const pending = this.#unrecorded.get(id);
    if (pending?.swapped && !end.swapped) return;
    this.#unrecorded.set(id, end);
    if (pending) return; // its retries are under way and will write this one
    this.#leftovers.schedule(app, name, () => this.#writeUnrecorded(id), Infinity);
  }

  /**
   * Writes what #unrecorded holds for `id`; throws (to be retried) only while the store is
   * unreachable: any other failure (e.g. the process was deleted meanwhile) would fail again.
   */
  async #writeUnrecorded(id: string): Promise<void> {
    for (let end = this.#unrecorded.get(id); end; end = this.#unrecorded.get(id)) {
      if (this.#shuttingDown) return;
      await end.write().catch((error: unknown) => {
        if (storeUnreachable(error)) throw error;
        this.#deps.log.warn(
          { process: id, err: String(error) },
          "could not record a process's end",
        );
      });
      // A newer end that arrived during the write is written on the next turn of the loop.
      if (this.#unrecorded.get(id) === end) this.#unrecorded.delete(id);
    }
  }

  /**
   * A sticky call found the endpoint of a process recorded as active refusing connections. If
   * no replica holds its control link either, it is gone without its death having been
   * recorded, so it is marked failed now and the caller resumes it as any failed process (a
   * process that is only re-dialling its control link still serves, so it is never refused).
   */
  async failUnreachable(seen: ProcessRecord, why: string): Promise<void> {
    const { app, name } = seen;
    const record = await this.#deps.store.getProcess(app, name);
    if (record?.status !== "active" || record.connection?.token !== seen.connection?.token) return;
    if (await this.#deps.cluster.linked(record)) return;
    const reason = `not connected and its endpoint refuses connections: ${why}`;
    await this.markFailed(app, name, reason, record.backendId);
  }

  /**
   * After a control-plane restart (called once the reconnect grace is over): processes recorded
   * as active that never dialled back are gone (an orphaned process swaps itself out first, so
   * `resume` can bring its state back), and records left mid-operation by the crash are
   * reconciled. From then on, records stuck mid-operation longer than any operation may take
   * (another replica died during it) are reconciled periodically.
   */
  async sweepUnreachable(): Promise<void> {
    await this.#sweepLogged((record) => record.updatedAt < this.#startedAt, true);
    this.#deps.log.debug("swept processes left by a restart");
    this.#scheduleReconcile();
  }

  /** A sweep runs from a timer: its failure (e.g. the store closing at shutdown) is logged. */
  async #sweepLogged(
    stale: (record: ProcessRecord) => boolean,
    unreachable: boolean,
  ): Promise<void> {
    try {
      await this.#sweep(stale, unreachable);
    } catch (error) {
      if (!this.#shuttingDown) this.#deps.log.warn({ err: String(error) }, "sweep failed");
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
        } else if (TRANSITIONAL.has(record.status) && stale(record)) {
          await this.#reconcile(record).catch((error: unknown) =>
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
      await this.markFailed(
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
      await this.markFailed(record.app, record.name, reason);
    }
  }

  /**
   * The process swapped itself out (a signal told it to stop) and exits next: record it as
   * swapped so it resumes on demand. A swap we started ourselves records that on its own. While
   * the store is unreachable, it is recorded once the store answers again (the link that
   * carried the report is gone by then).
   */
  async swappedItself(app: string, name: string, size: number): Promise<void> {
    const write = () => this.#recordSelfSwap(app, name, size);
    await write().catch((error: unknown) => {
      if (storeUnreachable(error)) {
        this.#deps.log.warn(
          { app, name, err: String(error) },
          "could not record that the process swapped itself out; will once the store answers",
        );
        this.#recordLater(app, name, { swapped: true, write });
      }
      throw error;
    });
  }

  async #recordSelfSwap(app: string, name: string, size: number): Promise<void> {
    const record = await getProcessOrThrow(this.#deps.store, app, name);
    if (record.status !== "active") return;
    await transition(this.#deps.store, app, name, ["active"], "swapping");
    await transition(this.#deps.store, app, name, ["swapping"], "swapped", {
      stateSize: size,
      connection: undefined,
      backendId: undefined,
      swapReason: "signal",
    });
    this.#deps.log.info({ app, name, size }, "process swapped itself out");
  }

  #scheduleReconcile(): void {
    if (this.#shuttingDown) return;
    const { config } = this.#deps;
    const stuckAfterMs = config.startTimeoutMs + SWAP_COMMAND_TIMEOUT_MS + config.reconnectGraceMs;
    this.#reconcileTimer = setTimeout(() => {
      // Only stuck operations: a live process linked to another replica is none of ours.
      void this.#sweepLogged((record) => Date.now() - record.updatedAt > stuckAfterMs, false).then(
        () => this.#scheduleReconcile(),
      );
    }, config.reconnectGraceMs);
    this.#reconcileTimer.unref();
  }

  /**
   * A record left in allocating/swapping/resuming by an operation that is gone, moved to a
   * status the user can go on from. Operations this replica is running are left alone.
   */
  async #reconcile(record: ProcessRecord): Promise<void> {
    const { app, name, status } = record;
    if (this.#operations.has(`${app}/${name}`)) return;
    this.#deps.log.warn({ app, name, status }, "reconciling a process left mid-operation");
    if (status === "swapping") return this.#settleSwap(app, name, "swap interrupted");
    // A start that registered but was never recorded: nobody could manage or stop that process.
    if (await this.#deps.cluster.linked(record)) await this.#stop(record);
    if (status === "resuming" && (await this.#deps.blobs.stat(snapshotKey(app, name)))) {
      await transition(this.#deps.store, app, name, ["resuming"], "swapped");
      return;
    }
    const reason = `${status === "allocating" ? "allocation" : "resume"} interrupted`;
    await transition(this.#deps.store, app, name, [status], "failed", failedPatch(reason));
  }

  /**
   * A swapping record whose swap did not end in the store: swapped when this swap stored its
   * state (the stored snapshot names the swap's id: the process exits, even if its link is still
   * up); back to active when the process is still connected (it could not store its state and
   * kept serving); failed otherwise. A snapshot merely existing proves nothing: an earlier
   * swap's is kept after a resume, and compaction stores them while a `log` process serves.
   */
  async #settleSwap(app: string, name: string, reason: string): Promise<void> {
    const { store, cluster } = this.#deps;
    const record = await getProcessOrThrow(store, app, name);
    const stored = await this.#swapStored(record);
    if (!stored && (await cluster.linked(record))) {
      await transition(store, app, name, ["swapping"], "active");
      return;
    }
    if (stored) {
      // Its state is stored: whatever is left of the process must not serve on.
      if (record.backendId) await this.#deps.backend.stop(record.backendId);
      await transition(store, app, name, ["swapping"], "swapped", {
        connection: undefined,
        backendId: undefined,
      });
      return;
    }
    // Not stopped: a process that is only re-dialling comes back as active (failed → active).
    const why = `swap failed and the process is gone: ${reason}`;
    await transition(store, app, name, ["swapping"], "failed", failedPatch(why));
  }

  /** Whether the stored snapshot is the one the record's swap command asked for. */
  async #swapStored(record: ProcessRecord): Promise<boolean> {
    if (record.swapId === undefined) return false;
    const stream = await this.#deps.blobs.get(snapshotKey(record.app, record.name));
    if (stream === undefined) return false;
    const head = await decodeSnapshotHead(stream).catch(() => undefined);
    return head?.swapId === record.swapId;
  }

  /**
   * A registration nobody here waited for: a process reconnecting (after a control-plane
   * restart, or from a replica that died), or one another replica started whose link landed
   * here. The record now names this replica as holding the link.
   */
  async reconnected(registration: Registration): Promise<void> {
    const { app, name, token } = registration;
    const record = await getProcessOrThrow(this.#deps.store, app, name);
    this.#refuseStale(record, registration);
    const replica = this.#deps.cluster.id;
    if (record.status === "active" || record.status === "failed") {
      await transition(this.#deps.store, app, name, ["active", "failed"], "active", {
        connection: connectionOf(registration, token),
        replica,
        error: undefined,
      });
    } else if (TRANSITIONAL.has(record.status)) {
      // Mid-operation (a swap waiting for this link, or a start by another replica, which sees
      // the connection appear in the record): only say where the link is now.
      // The operation keeps its start time: the sweeps judge from it whether it outlived its
      // replica (a crash), which a refreshed time would hide for minutes.
      const connection =
        record.status === "swapping" ? {} : { connection: connectionOf(registration, token) };
      await transition(this.#deps.store, app, name, [record.status], record.status, {
        replica,
        updatedAt: record.updatedAt,
        ...connection,
      });
    } else {
      throw new PraaSError("INVALID_STATE", `process ${app}/${name} is ${record.status}`);
    }
    if (record.backendId) this.#deps.backend.adoptReconnected?.(record.backendId, app, name);
    this.#deps.log.info({ app, name, status: record.status }, "process reconnected");
  }

  /**
   * An earlier instance of a process that was replaced (marked failed while it was only
   * re-dialling, then resumed) must not take the record or the control link back from the
   * instance that replaced it: its token is not the one the record or the start waits for.
   * REPLACED tells it to exit without saving: its state is older than the newer instance's, so
   * swapping it out (as an orphan would) could overwrite the newer snapshot.
   */
  #refuseStale(record: ProcessRecord, registration: Registration): void {
    const current = record.connection?.token;
    const replaced =
      ((record.status === "active" || record.status === "swapping") &&
        current !== undefined &&
        current !== registration.token) ||
      ((record.status === "allocating" || record.status === "resuming") &&
        this.registrations.starting(record.app, record.name));
    if (replaced) {
      throw new PraaSError(
        "REPLACED",
        `process ${record.app}/${record.name} was replaced by a newer instance`,
      );
    }
  }

  /**
   * Stops every live process this replica can reach: swapped out when state can outlive us. A
   * process whose state could not be swapped out (a full disk) is left running with it rather
   * than stopped: it re-dials the control plane, which finds it again once restarted.
   */
  async shutdown(persist: boolean): Promise<void> {
    this.#shuttingDown = true;
    clearTimeout(this.#reconcileTimer);
    this.#leftovers.stop();
    let kept = new Set<string>();
    try {
      kept = await this.#stopLinked(persist);
    } catch (error) {
      // E.g. Redis is down: the backend still stops every child, and a process told to stop
      // by a signal swaps its state out by itself, so nothing is stranded.
      this.#deps.log.warn({ err: String(error) }, "could not stop processes over their links");
    }
    await this.#deps.backend.shutdown(kept);
  }

  /** Swaps out (or stops) the linked processes; the backend ids of those left running. */
  async #stopLinked(persist: boolean): Promise<Set<string>> {
    const { store, links } = this.#deps;
    const apps = await store.listApps();
    const records = (await Promise.all(apps.map((a) => store.listProcesses(a.name)))).flat();
    const live = records.filter((r) => r.status === "active" && links.has(r.app, r.name));
    const kept = new Set<string>();
    await Promise.all(
      live.map(async (r) => {
        if (!persist) return this.#stop(r).catch(() => undefined);
        const left = await this.swap(r.app, r.name, "shutdown").then(
          () => undefined,
          (error: unknown) => this.#leftRunning(r, error),
        );
        if (left !== undefined) kept.add(left);
      }),
    );
    return kept;
  }

  /**
   * After a failed shutdown swap: the backend id of a process still active with state that
   * exists nowhere else (its durability is not `log`), which is then not stopped.
   */
  async #leftRunning(record: ProcessRecord, error: unknown): Promise<string | undefined> {
    const now = await this.#deps.store.getProcess(record.app, record.name).catch(() => undefined);
    const { backendId } = now ?? {};
    if (now?.status !== "active" || backendId === undefined || now.durability === "log")
      return undefined;
    const { app, name } = record;
    const err = String(error);
    this.#deps.log.error(
      { app, name, err },
      "state could not be swapped out: the process is left running with it",
    );
    return backendId;
  }

  async #activate(
    record: ProcessRecord,
    from: ProcessStatus,
    restore: boolean,
    undo: (error: unknown) => Promise<void>,
  ): Promise<ProcessRecord> {
    const { app, name } = record;
    let started:
      Pick<ProcessRecord, "connection" | "backendId" | "replica" | "version"> | undefined;
    try {
      started = await this.#launch(record, restore);
      return await transition(this.#deps.store, app, name, [from], "active", {
        ...started,
        error: undefined,
        swapReason: undefined,
        idleSince: undefined,
      });
    } catch (error) {
      // A process that started but is not ours to keep (e.g. the record moved on) must not run.
      if (started?.backendId)
        await this.#deps.backend.stop(started.backendId).catch(() => undefined);
      await undo(error);
      throw error;
    }
  }

  async #launch(
    record: ProcessRecord,
    restore: boolean,
  ): Promise<Pick<ProcessRecord, "connection" | "backendId" | "replica" | "version">> {
    const { config, store, blobs, backend } = this.#deps;
    const appRecord = await store.getApp(record.app);
    if (!appRecord) throw new PraaSError("APP_NOT_FOUND", `no application ${record.app}`);
    const token = randomBytes(24).toString("base64url");
    const waiting = this.registrations.expect(
      record.app,
      record.name,
      token,
      config.startTimeoutMs,
    );
    try {
      const started = await backend.start({
        ...this.#spec(record, token, restore),
        ...applicationSpec(appRecord),
        bundleKey: appRecord.bundleKey,
        loadBundle: () =>
          loadAppBundle(blobs, appRecord.name, appRecord.version, appRecord.bundleKey),
      });
      const registration = await waiting.registered.catch(async (error: unknown) => {
        await backend.stop(started.backendId); // it never registered: nobody could manage it
        throw error;
      });
      return {
        backendId: started.backendId,
        version: appRecord.version,
        connection: connectionOf(registration, token),
        replica: registration.replica ?? this.#deps.cluster.id,
      };
    } finally {
      waiting.cancel();
    }
  }

  #spec(record: ProcessRecord, token: string, restore: boolean) {
    const { config } = this.#deps;
    return {
      app: record.app,
      name: record.name,
      vcpus: record.resources.vcpus,
      memoryMiB: record.resources.memory,
      token,
      secret: record.secret,
      restore,
      controlAddress: this.#deps.controlAddress(),
      invocationTimeoutMs: config.invocationTimeoutMs,
      limits: { ...record.limits },
      durability: record.durability ?? "memory",
      maxPayloadBytes: config.bodyLimitBytes,
      reach: config.processReach,
      idleSwapMs: record.idleSwapMs ?? config.idleSwapMs,
      errorStacks: config.errorStacks,
    };
  }

  /** A failed record whose process may still run (e.g. its link dropped but it lives on). */
  async #stopIfAlive(record: ProcessRecord): Promise<void> {
    if (await this.#deps.cluster.linked(record)) await this.#stop(record);
    else if (record.backendId) await this.#deps.backend.stop(record.backendId);
  }

  /** Runs a create/swap/resume after any other one on the same process in this replica. */
  async #exclusive<T>(app: string, name: string, work: () => Promise<T>): Promise<T> {
    const id = `${app}/${name}`;
    const current = (this.#operations.get(id) ?? Promise.resolve()).then(work, work);
    const settled = current.catch(() => undefined);
    this.#operations.set(id, settled);
    try {
      return await current;
    } catch (error) {
      this.#leftovers.schedule(app, name); // its last store write may have failed too
      throw error;
    } finally {
      if (this.#operations.get(id) === settled) this.#operations.delete(id);
    }
  }

  /**
   * A record an operation that failed at `failedAt` left mid-way, reconciled; not one a later
   * operation wrote (e.g. a create of the same name whose operation is not on the books yet).
   */
  async #settleLeftover(app: string, name: string, failedAt: number): Promise<void> {
    if (this.#shuttingDown || this.#operations.has(`${app}/${name}`)) return;
    const record = await this.#deps.store.getProcess(app, name);
    if (record && TRANSITIONAL.has(record.status) && record.updatedAt <= failedAt) {
      await this.#reconcile(record);
    }
  }

  /**
   * A new process must never start from the state of an earlier one of the same name (e.g. a
   * snapshot an orphaned process wrote after its record was deleted, or its write-ahead log):
   * remove any leftover.
   */
  async #dropLeftovers(app: string, name: string): Promise<void> {
    // Both at once: a create waits for them before it starts the process.
    const [snapshot] = await Promise.all([
      this.#deps.blobs.delete(snapshotKey(app, name)),
      this.#deps.backend.deleteLog?.(app, name),
    ]);
    if (snapshot)
      this.#deps.log.warn({ app, name }, "removed swapped state left by an earlier process");
  }

  async #stop(record: ProcessRecord): Promise<void> {
    try {
      await this.#deps.cluster.command(record.app, record.name, "stop", undefined, 10_000);
    } catch {
      if (record.backendId) await this.#deps.backend.stop(record.backendId);
    }
  }

  #waitSettled(app: string, name: string, timeoutMs: number): Promise<ProcessRecord> {
    return waitForStatus(this.#deps.store, app, name, SETTLED, timeoutMs);
  }
}

/** Where clients reach a registered process, and how (a path only when it is not direct). */
function connectionOf(registration: Registration, token: string): ConnectionInfo {
  const { host, port, path } = registration;
  return path === undefined || path === "direct"
    ? { host, port, token }
    : { host, port, token, path };
}

/** An operation's error as a record's reason: with its code when it has one. */
function reasonOf(error: unknown): string {
  return error instanceof PraaSError ? `${error.code}: ${error.message}` : String(error);
}

/** A record update to write once the store answers again. */
interface UnrecordedEnd {
  /** The process reported its own swap-out (else: it died). */
  swapped: boolean;
  /** Reads the record and writes the update if it still applies; rejects while the store is down. */
  write(): Promise<void>;
}

/** The store could not be reached (Redis down): the same write may work later. */
function storeUnreachable(error: unknown): boolean {
  return error instanceof PraaSError && error.code === "UNAVAILABLE";
}

/**
 * A resume refused because the record was no longer swapped or failed when its turn came: some
 * other operation moved it (it is active, swapping or resuming now), so looking again decides.
 */
function lostRace(error: unknown): boolean {
  return error instanceof PraaSError && error.code === "INVALID_STATE";
}

/** A record becoming failed: why, now and kept for later (lastFailure), and no connection. */
function failedPatch(reason: string): ProcessPatch {
  return { error: reason, lastFailure: { at: Date.now(), reason }, connection: undefined };
}

/** What every process of the application gets: its environment, permissions and peer secret. */
function applicationSpec(
  app: AppRecord,
): Pick<ProcessSpec, "appEnv" | "permissions" | "peerSecret" | "serialize"> {
  return {
    appEnv: { ...app.env, ...app.secrets },
    permissions: { ...NO_PERMISSIONS, ...app.permissions },
    serialize: app.serialize ?? false,
    peerSecret: app.peerSecret,
  };
}

/** Where a process rests between operations. */
const SETTLED: ReadonlySet<ProcessStatus> = new Set(["active", "swapped", "failed"]);

/**
 * Resolves when the process reaches one of `statuses`; rejects on timeout, when it fails (unless
 * `failed` is wanted) or vanishes, or when the store cannot be read. The timer and the
 * subscription end on every path.
 */
export async function waitForStatus(
  store: MetadataStore,
  app: string,
  name: string,
  statuses: ReadonlySet<ProcessStatus>,
  timeoutMs: number,
): Promise<ProcessRecord> {
  const wanted = [...statuses].join(" or ");
  let timer: NodeJS.Timeout | undefined;
  let subscription: Promise<() => Promise<void>> | undefined;
  try {
    return await new Promise<ProcessRecord>((resolve, reject) => {
      const check = (record: ProcessRecord | undefined): void => {
        if (record && statuses.has(record.status)) resolve(record);
        else if (!record || record.status === "failed" || record.status === "deleted") {
          const now = record?.status ?? "gone";
          reject(new PraaSError("INVALID_STATE", `process ${app}/${name} is ${now}`));
        }
      };
      timer = setTimeout(() => {
        reject(
          new PraaSError("TIMEOUT", `process ${app}/${name} not ${wanted} in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      subscription = store.subscribe((change) => {
        if (change.app === app && change.name === name) check(change.record);
      });
      subscription.then(async () => check(await store.getProcess(app, name))).catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await subscription?.then((off) => off()).catch(() => undefined);
  }
}

export type { Resources };
