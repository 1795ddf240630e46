/**
 * A cloud process: the state, the mailbox, the workers, the data plane and the peers of one
 * named instance of an application, and its lifecycle (start or restore → active →
 * swap out or stop). This object never runs user code; its workers do.
 */
import type { Logger } from "pino";
import type { Socket } from "node:net";
import {
  CONTROL_PLANE_CLIENT,
  FrameType,
  PraaSError,
  SELF,
  STORAGE_FREE_STEP_BYTES,
  GOODBYE_MS,
  encodeFields,
  functionNotFound,
  type AlarmRequest,
  type ConnectionCounts,
  type PeerTicket,
  type ProcessReach,
  type Hello,
  type ErrorCode,
  type ProcessMetricsReport,
} from "../protocol/index.js";
import type { FrameLink } from "../transport/index.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { ProcessConfig } from "./config.js";
import { DataPlaneServer, type HandedConnection } from "./dataplane-server.js";
import { IdleTracker } from "./idle-tracker.js";
import { FunctionLogs } from "./function-logs.js";
import { FunctionMeter } from "./function-metrics.js";
import { Mailbox, type Message } from "./mailbox.js";
import { Peers } from "./peers.js";
import { LogCompactor } from "./log-compactor.js";
import {
  decodeSnapshotHead,
  readStoredSnapshot,
  encodeSnapshot,
  type LogPosition,
  type StateEntry,
} from "./snapshot.js";
import { WriteAheadLog, holdsNewer, type OpenedReplay, type WalOp } from "./wal.js";
import { MemoryGuard } from "./memory-guard.js";
import { StateStore, StorageQuota, type StateOp } from "./state-store.js";
import { answerWorkerCall, ownBytes, type CallTarget } from "./worker-calls.js";
import type { WorkerHandle } from "./worker-handle.js";
import type { DirectCall } from "./direct-ledger.js";
import { WorkerPool } from "./worker-pool.js";
import { WorkerSandbox } from "./worker-sandbox.js";
import type { WarmSlot } from "./warm-slot.js";

/** Failures of an invocation that the platform, not the function, saw happen. */
const PLATFORM_FAILURES: ReadonlySet<ErrorCode> = new Set([
  "TIMEOUT",
  "WORKER_CRASHED",
  "OUT_OF_MEMORY",
]);
/**
 * Hand authenticated client connections to workers: a direct call crosses two sockets
 * (client → worker → client) instead of four through the process.
 */
const HAND_OFF_CLIENT_CONNECTIONS = true;

/** What a process reaches beyond itself; each absent when it runs without a control plane. */
export interface ProcessLinks {
  /** Asks the control plane to resume a swapped peer before a message or call to it. */
  resumePeer?: (name: string) => Promise<void>;
  /** Asks the control plane for a ticket to pair with a peer behind NAT. */
  peerTicket?: (name: string) => Promise<PeerTicket>;
  /** Sends alarm requests to the control plane. */
  alarms?: (request: AlarmRequest) => Promise<boolean>;
  /** A warm-pool slot (runtime/warm-slot.ts) to run in, with its sandbox and booted workers; it must fit the config. */
  slot?: WarmSlot;
}

export type RuntimeStatus = "starting" | "active" | "swapping" | "swapped" | "stopped";

/** The write-ahead log's counters (bytes: its size now). */
export interface WalStats {
  appends: number;
  syncs: number;
  bytes: number;
  compactions: number;
}

export interface SwapResult {
  /** Bytes written to the blob store. */
  size: number;
  key: string;
}

export class CloudProcess implements CallTarget {
  readonly config: ProcessConfig;
  readonly state: StateStore;
  readonly mailbox: Mailbox;
  readonly peers: Peers;
  /** When it was last used: invocations, messages and client connections (scale to zero). */
  readonly idle: IdleTracker;
  /** What the functions wrote, until the control plane has it. */
  readonly logs: FunctionLogs;
  /** Invocations by function and outcome, latencies, worker restarts. */
  readonly meter = new FunctionMeter();
  readonly #memory: MemoryGuard;
  readonly #sandbox: WorkerSandbox;
  readonly #pool: WorkerPool;
  readonly #dataPlane: DataPlaneServer;
  readonly #blobs: BlobStore;
  readonly #log: Logger;
  /** The write-ahead log, under durability "log", once start() opened it. */
  #wal: WriteAheadLog | undefined;
  readonly #compactor: LogCompactor;
  #status: RuntimeStatus = "starting";
  /** Set once a swap-out took its snapshot: deliveries would be lost, so they are refused. */
  #sealed = false;
  #port = 0;
  #invocations = 0;
  /** The generation of the stored snapshot this instance restored or stored last (0: none). */
  #generation = 0;
  /** A StorageFree notice to workers is due this tick. */
  #freeNoticeDue = false;
  /** What the last StorageFree notice said (NaN: none yet). */
  #freeTold = Number.NaN;
  readonly #bootId = Date.now().toString(36);
  /** Sends alarm requests to the control plane; absent without one. */
  readonly #alarms: ((request: AlarmRequest) => Promise<boolean>) | undefined;
  /** The warm-pool slot this process took (its sandbox and booted workers), if it took one. */
  readonly #slot: WarmSlot | undefined;

  constructor(config: ProcessConfig, blobs: BlobStore, log: Logger, links: ProcessLinks = {}) {
    this.config = config;
    this.#slot = links.slot;
    this.#blobs = blobs;
    this.#log = log;
    this.#alarms = links.alarms;
    this.idle = new IdleTracker(config.idleSwapMs);
    const quota = new StorageQuota(config.maxStoredBytes);
    this.state = new StateStore(quota);
    this.mailbox = new Mailbox(quota, (ops) => this.#journal(ops));
    this.logs = new FunctionLogs(config.application, config.name);
    this.#memory = this.#createMemoryGuard();
    this.peers = new Peers(
      {
        self: config.name,
        peerSecret: config.peerSecret,
        maxPayloadBytes: config.maxPayloadBytes,
        resume: links.resumePeer,
        ticket: links.peerTicket,
        // The pool exists by the time a directory arrives (both are made in this constructor).
        moved: (peer) => this.#pool.peerMoved(peer),
      },
      config.peers,
    );
    this.#compactor = this.#createCompactor();
    this.#sandbox = this.#createSandbox();
    this.#pool = this.#createPool();
    this.#dataPlane = new DataPlaneServer(
      { ...config, process: config.name },
      {
        invoke: (fn, payload) => this.#external(fn, payload),
        deliver: (s, k, v) => this.#deliver(s, k, v),
        connected: (hello) => this.#connected(hello),
        ...(HAND_OFF_CLIENT_CONNECTIONS && {
          handOff: (connection: HandedConnection) => this.#handOff(connection),
          handedOff: () => this.#pool.handedOff,
        }),
      },
      links.slot?.takeListener(config.host, config.port),
    );
  }

  get name(): string {
    return this.config.name;
  }

  get status(): RuntimeStatus {
    return this.#status;
  }

  get port(): number {
    return this.#port;
  }

  /** Serves a socket a rendezvous pairing produced, like one the data plane accepted. */
  acceptPaired(socket: Socket, path: ProcessReach): void {
    if (this.#status !== "active") {
      socket.destroy();
      return;
    }
    this.#dataPlane.accept(socket, path);
  }

  /** Open data-plane connections by the path each took. */
  get connectionCounts(): ConnectionCounts {
    return this.#dataPlane.connectionCounts();
  }

  get defaultGetTimeoutMs(): number {
    return this.config.invocationTimeoutMs;
  }

  get workerPids(): number[] {
    return this.#pool.pids;
  }

  get snapshotKey(): string {
    return `swaps/${this.config.application}/${this.config.name}`;
  }

  /** The write-ahead log's counters, under durability "log". */
  get walStats(): WalStats | undefined {
    const wal = this.#wal;
    return (
      wal && {
        appends: wal.appends,
        syncs: wal.syncs,
        bytes: wal.size,
        compactions: wal.compactions,
      }
    );
  }

  /**
   * Restores state (with --restore: the snapshot; under durability "log": then the write-ahead
   * log over it) while the workers load the application; once restored, and still while they
   * load, runs `announce` (the registration: it needs only the data-plane port, taken first);
   * then serves. The stored snapshot is kept: a resume that fails at any later step can be
   * retried from it, and a crash comes back to it (the next swap replaces it).
   */
  async start(announce: () => Promise<void> = () => Promise.resolve()): Promise<void> {
    this.#memory.start(); // before the workers, so they start inside the process's cgroup
    const loaded = this.#startWorkers(); // first: loading the bundle is the longest step
    const restored = this.#restoreAll();
    // All settle before a failure is reported, so stopping never races workers still starting.
    const [functions] = await allSettled([loaded, restored, this.#announce(restored, announce)]);
    this.#status = "active"; // first: the held connections are handed to workers only then
    this.#dataPlane.open();
    const memory = `${this.config.memoryMiB} MiB (${this.#memory.enforcement})`;
    const workers = this.config.workers;
    this.#log.info({ port: this.#port, functions, workers, memory }, "process active");
  }

  /**
   * Takes the data-plane port (clients who learn it early are held until the process is
   * active), then announces the process once its state is back: a process that cannot restore
   * its state never registers.
   */
  async #announce(restored: Promise<void>, announce: () => Promise<void>): Promise<void> {
    this.#port = await this.#dataPlane.bind(this.config.host, this.config.port);
    await restored;
    await announce();
  }

  /** A warm slot's sandbox exists and its workers run: they only need the bundle. */
  async #startWorkers(): Promise<string[]> {
    if (this.#slot === undefined) await this.#sandbox.prepare();
    this.#sandbox.install(this.config.bundlePath);
    return this.#pool.start(this.#slot?.workers);
  }

  /** Runs a function here, or in a peer when `process` names another process. */
  invoke(functionName: string, payload: Buffer, process = ""): Promise<Buffer> {
    if (process !== "" && process !== SELF && process !== this.config.name) {
      return this.peers.invoke(process, functionName, payload);
    }
    return this.#run(functionName, payload);
  }

  /** Counted and timed per function; a caller who may not see stack traces gets none. */
  async #run(functionName: string, payload: Buffer): Promise<Buffer> {
    const id = this.#nextInvocationId();
    try {
      return await this.meter.measure(functionName, () =>
        this.#pool.invoke(functionName, payload, id),
      );
    } catch (error) {
      this.#logFailure(functionName, id, error);
      throw error instanceof PraaSError && !this.config.errorStacks ? error.withoutStack() : error;
    }
  }

  /** Failures the function did not report itself (its own throws are logged by its worker). */
  #logFailure(functionName: string, id: string, error: unknown): void {
    if (!(error instanceof PraaSError) || !PLATFORM_FAILURES.has(error.code)) return;
    const message = `invocation failed: ${error.code}: ${error.message}`;
    this.logs.add("error", "system", message, functionName, id);
  }

  /** The metrics a log batch carries: per-function counters and the gauges of this moment. */
  metricsReport(): { version: number; report: ProcessMetricsReport } {
    const gauges = {
      inflight: this.#pool.inflight,
      stateBytes: this.state.bytes,
      stateKeys: this.state.size,
      mailboxDepth: this.mailbox.depth,
    };
    return { version: this.meter.version, report: this.meter.report(gauges) };
  }

  /** Invocations running now (calls between functions included). */
  get inflight(): number {
    return this.#pool.inflight;
  }

  sendToPeer(peer: string, key: string, value: Buffer): Promise<void> {
    return this.peers.put(peer, key, value);
  }

  stateChanged(key: string, from?: FrameLink): void {
    this.#pool.broadcast(FrameType.StateChanged, encodeFields([key]), from);
  }

  /**
   * Under "log", resolves once the changes are in the write-ahead log on disk (and `undo` runs
   * when they cannot be); at once otherwise.
   */
  persist(ops: readonly StateOp[], undo: () => void): Promise<void> {
    // The log's own time: the store's updatedAt is not visible here; a replay may differ by a ms.
    const now = Date.now();
    return this.#journal(
      ops.map((op) => stateWalOp(op, now)),
      undo,
    );
  }

  #journal(ops: WalOp[], undo?: () => void): Promise<void> {
    this.#noticeFree();
    if (this.config.durability === "memory") return Promise.resolve();
    const wal = this.#wal;
    if (wal === undefined) {
      undo?.();
      return Promise.reject(new PraaSError("UNAVAILABLE", "the write-ahead log is not open"));
    }
    const appended = wal.append(ops, undo);
    this.#compactor.check(wal);
    return appended;
  }

  /**
   * Workers serving their own connections size a call's storage budget from what the process
   * told them last: tell them after a tick that moved it by a step or more since.
   */
  #noticeFree(): void {
    if (this.#freeNoticeDue) return;
    this.#freeNoticeDue = true;
    process.nextTick(() => {
      this.#freeNoticeDue = false;
      const free = this.state.quota.free;
      // Equal first: with no limit both are Infinity, whose difference is NaN.
      if (free === this.#freeTold || Math.abs(free - this.#freeTold) < STORAGE_FREE_STEP_BYTES)
        return;
      this.#freeTold = free;
      this.#pool.broadcast(FrameType.StorageFree, encodeFields([String(free)]));
    });
  }

  processes(): { active: string[]; swapped: string[] } {
    return this.peers.list();
  }

  /**
   * Only this process knows its functions: an alarm for one it lacks could never fire. A cancel
   * is not checked, so an alarm of a function a redeploy removed can still be cancelled.
   */
  alarm(request: AlarmRequest): Promise<boolean> {
    const functions = this.#pool.functions;
    if (request.op === "set" && !functions.has(request.function))
      return Promise.reject(functionNotFound("the application", request.function, functions));
    if (!this.#alarms)
      return Promise.reject(new PraaSError("UNAVAILABLE", "alarms need a control plane"));
    return this.#alarms(request);
  }

  /**
   * Swap-out: stop taking new invocations, let running ones finish (bounded by the drain
   * timeout), take the snapshot (from then on mailbox deliveries are refused, so nothing can
   * arrive after it and be lost), and write it while the workers and the data plane stay up.
   * Only once the write succeeded does the process stop serving. A failed write puts the
   * process back to active, serving and accepting deliveries, and rejects with the cause.
   * `swapId` (from the control plane's swap command) goes into the snapshot's head, so the
   * control plane can tell this swap's snapshot from an earlier one when the reply is lost.
   */
  async swapOut(swapId = ""): Promise<SwapResult> {
    if (this.#status !== "active")
      throw new PraaSError("INVALID_STATE", `cannot swap a ${this.#status} process`);
    this.#status = "swapping";
    await this.#compactor.idle();
    await this.#pool.drainDirect(true);
    await this.#drain();
    let size: number;
    try {
      size = await this.#writeSnapshot(swapId);
    } catch (error) {
      this.#sealed = false;
      this.#status = "active";
      await this.#pool.drainDirect(false);
      this.#log.error({ err: String(error) }, "swap-out failed; still active");
      throw ensureStorageError(error, this.snapshotKey);
    }
    this.#status = "swapped";
    await this.#foldLog();
    await this.#stopServing();
    this.#log.info({ size, key: this.snapshotKey }, "swapped out");
    return { size, key: this.snapshotKey };
  }

  /** Stops without saving state. */
  async stop(): Promise<void> {
    if (this.#status === "stopped" || this.#status === "swapped") return;
    this.#status = "stopped";
    await this.#stopServing();
  }

  async #drain(): Promise<void> {
    const drained = await this.#pool.drained(this.config.drainTimeoutMs);
    if (!drained)
      this.#log.warn(
        "swap: invocations still running after the drain timeout; they will be stopped",
      );
  }

  /** Seals the mailbox, copies the state (values are never mutated in place) and stores both. */
  async #writeSnapshot(swapId: string): Promise<number> {
    this.#sealed = true;
    const state = [...this.#stateEntries()];
    const messages = this.mailbox.messages();
    const log = { epoch: this.#wal?.epoch ?? 0, offset: 0 };
    return this.#storeSnapshot(state, messages, log, swapId);
  }

  /** Stores the next generation, only over the one this instance holds (see #checkStored). */
  async #storeSnapshot(
    state: StateEntry[],
    messages: Message[],
    log: LogPosition,
    swapId = "",
  ): Promise<number> {
    await this.#checkStored();
    const stamp = { generation: this.#generation + 1, swapId };
    const { size } = await this.#blobs.put(
      this.snapshotKey,
      encodeSnapshot(state, messages, log, stamp),
    );
    this.#generation = stamp.generation;
    return size;
  }

  /**
   * REPLACED when the stored snapshot is not the one this instance restored or stored last: a
   * newer instance of the process (started while this one could not reach the control plane)
   * stored it, or the process was deleted. Ours is the older state; it must not overwrite it.
   * (A check before the write, not a conditional write: blob stores have none. The control
   * plane also tells such an instance to exit as soon as it reaches it.)
   */
  async #checkStored(): Promise<void> {
    const stream = await this.#blobs.get(this.snapshotKey);
    const stored = stream === undefined ? 0 : (await decodeSnapshotHead(stream)).generation;
    if (stored === this.#generation) return;
    throw new PraaSError(
      "REPLACED",
      `the stored snapshot ${this.snapshotKey} is generation ${stored}, this instance holds ` +
        `${this.#generation}: a newer instance of the process stored it; not overwriting it`,
    );
  }

  /**
   * The stored snapshot holds the log's ops now: start a new epoch. If this fails, the stale
   * log is still recognised by its epoch at the next start and not replayed twice.
   */
  async #foldLog(): Promise<void> {
    const wal = this.#wal;
    if (wal?.epoch === undefined) return;
    await wal.reset(wal.epoch + 1).catch((error: unknown) => {
      this.#log.warn({ err: String(error) }, "could not empty the write-ahead log after a swap");
    });
  }

  async #stopServing(): Promise<void> {
    this.idle.stop();
    this.mailbox.rejectWaiters(new PraaSError("UNAVAILABLE", "the process is stopping"));
    // Together: a client redialling while the workers stop must find the listener closed.
    await Promise.all([this.#pool.stop(), this.#dataPlane.close(GOODBYE_MS)]);
    this.#memory.stop();
    this.peers.closeAll();
    await this.#sandbox.remove();
    if (this.walStats) this.#log.info(this.walStats, "write-ahead log closed");
    await this.#wal?.close().catch(() => undefined);
  }

  /** The snapshot (with --restore), then the write-ahead log (under "log") over it. */
  async #restoreAll(): Promise<void> {
    const held = this.config.restore ? await this.#restore() : { epoch: 0, offset: 0 };
    if (this.config.walPath !== undefined) await this.#openLog(this.config.walPath, held);
  }

  /** Restores the stored snapshot; resolves how much of the write-ahead log it holds. */
  async #restore(): Promise<LogPosition> {
    const snapshot = await readStoredSnapshot(this.#blobs, this.snapshotKey);
    if (snapshot === undefined)
      throw new PraaSError("STORAGE_ERROR", `no swapped state at ${this.snapshotKey}`);
    this.#generation = snapshot.generation;
    for (const entry of snapshot.state) this.state.restore(entry.key, entry.value, entry.updatedAt);
    for (const message of snapshot.messages) this.mailbox.replay({ kind: "mail", ...message });
    this.#log.info(
      { keys: snapshot.state.length, messages: snapshot.messages.length },
      "state restored",
    );
    return { epoch: snapshot.walEpoch, offset: snapshot.walOffset };
  }

  /**
   * Opens the write-ahead log and applies the ops the snapshot does not hold: all of a newer
   * epoch's, or those past the snapshot's offset in its own epoch (a snapshot taken while
   * serving). A log with nothing newer starts the epoch after the snapshot's.
   */
  async #openLog(file: string, held: LogPosition): Promise<void> {
    const { wal, replay } = await WriteAheadLog.open(file, held).catch((error: unknown) => {
      // A corrupt log's own message (file, offset) is what the caller must see, unwrapped.
      if (error instanceof PraaSError && error.code === "STORAGE_ERROR") throw error;
      throw new PraaSError("STORAGE_ERROR", `cannot open the write-ahead log: ${String(error)}`);
    });
    this.#wal = wal;
    const newer = holdsNewer(replay.epoch, held);
    if (newer) this.#replay(replay.ops);
    else await wal.reset(held.epoch + 1);
    this.#logReplay(replay, newer);
  }

  #replay(ops: readonly WalOp[]): void {
    for (const op of ops) {
      if (op.kind === "put") this.state.restore(op.key, op.value, op.updatedAt);
      else if (op.kind === "delete") this.state.delete(op.key);
      else this.mailbox.replay(op);
    }
  }

  #logReplay(replay: OpenedReplay, applied: boolean): void {
    const { ops, droppedBytes, epoch, keptAt, corruptAt } = replay;
    const fields = { ops: applied ? ops.length : 0, epoch, droppedBytes, keptAt, corruptAt };
    // Corrupt, yet opened: the stored snapshot holds the whole log, so nothing acknowledged is lost.
    const what = corruptAt === undefined ? "a torn tail" : "corruption the snapshot holds";
    if (droppedBytes > 0)
      this.#log.warn(fields, `write-ahead log had ${what}; cut it, kept in ${keptAt}`);
    else this.#log.info(fields, "write-ahead log replayed");
  }

  *#stateEntries(): Generator<StateEntry> {
    for (const [key, entry] of this.state.entries()) yield { key, ...entry };
  }

  #external(functionName: string, payload: Buffer): Promise<Buffer> {
    if (this.#status !== "active") {
      return Promise.reject(new PraaSError("UNAVAILABLE", `the process is ${this.#status}`));
    }
    const used = this.idle.begin();
    return this.#run(functionName, payload).finally(used);
  }

  /**
   * A client's open connection keeps the process from going idle while it lasts. Peers' links
   * and the control plane's pooled connection stay open for good: only their calls count.
   */
  #connected(hello: Hello): () => void {
    if (hello.role === "client" && hello.name !== CONTROL_PLANE_CLIENT) return this.idle.begin();
    this.idle.touch();
    return () => undefined;
  }

  /**
   * A client connection goes to a worker while the process is active; it keeps the process
   * from going idle as it would here, until the worker lets go of it (or dies).
   */
  #handOff(connection: HandedConnection): boolean {
    if (this.#status !== "active") return false;
    const disconnected = this.#connected(connection.hello);
    if (this.#pool.handOff(connection, disconnected)) return true;
    disconnected();
    return false;
  }

  /**
   * A call a worker ran on a connection it serves (or passed to the process, `forwarded`, which
   * counts it there) ended: it counted as activity and, unless forwarded, in the metrics; a
   * failure the platform saw is logged, as in #run.
   */
  #directCallEnded(call: DirectCall, seconds: number, error?: PraaSError, id = ""): void {
    this.idle.leave();
    const { fn, forwarded } = call;
    if (!forwarded) this.meter.record(fn, error === undefined ? "ok" : error.code, seconds);
    if (error !== undefined) this.#logFailure(fn, id, error);
  }

  /** A peer's message: acknowledged once stored (under "log": once in the log on disk). */
  #deliver(source: string, key: string, value: Buffer): Promise<void> {
    if (this.#sealed) throw new PraaSError("UNAVAILABLE", "the process is being swapped out");
    if (this.#status !== "active" && this.#status !== "swapping") {
      throw new PraaSError("UNAVAILABLE", `the process is ${this.#status}`);
    }
    this.idle.touch();
    return this.mailbox.put({ key, source, value: ownBytes(value) });
  }

  #nextInvocationId(): string {
    return `${this.config.name}-${this.#bootId}-${++this.#invocations}`;
  }

  #createMemoryGuard(): MemoryGuard {
    return new MemoryGuard({
      limitMiB: this.config.memoryMiB,
      mode: this.config.memoryGuard,
      label: `${this.config.application}.${this.config.name}.${process.pid}`,
      workerPids: () => this.#pool.pids,
      log: (message, fields) => this.#log.warn(fields ?? {}, message),
      cgroup: this.#slot?.cgroup,
    });
  }

  #createCompactor(): LogCompactor {
    return new LogCompactor({
      minBytes: this.config.walCompactBytes,
      liveBytes: () => this.state.quota.used,
      allowed: () => this.#status === "active",
      capture: () => ({ state: [...this.#stateEntries()], messages: this.mailbox.messages() }),
      store: async (state, messages, log) => void (await this.#storeSnapshot(state, messages, log)),
      warn: (message, fields) => this.#log.warn(fields, message),
    });
  }

  #createSandbox(): WorkerSandbox {
    const config = this.config;
    if (this.#slot) return this.#slot.sandbox;
    return new WorkerSandbox({
      label: `${config.application}-${config.name}`,
      permissions: config.permissions,
      log: (message) => this.#log.info(message),
    });
  }

  #createPool(): WorkerPool {
    const config = this.config;
    return new WorkerPool({
      sandbox: this.#sandbox,
      application: config.application,
      processId: config.name,
      appEnv: config.appEnv,
      workers: config.workers,
      memoryMiB: config.memoryMiB,
      maxPayloadBytes: config.maxPayloadBytes,
      durable: config.durability === "log",
      invocationTimeoutMs: config.invocationTimeoutMs,
      maxInflight: config.maxInflight,
      storageFree: () => this.state.quota.free,
      memory: this.#memory,
      onCall: (frame, link) => {
        if (frame.type === FrameType.Log) this.logs.fromFrame(frame);
        else answerWorkerCall(this, frame, link);
      },
      onOutput: (stream, chunk) => this.#pipes[stream](chunk),
      serialize: config.serialize,
      log: (message, fields) => this.#log.warn(fields ?? {}, message),
      replaced: (dead) => void this.#countRestart(dead),
      directCallStarted: () => this.idle.enter(),
      directCallEnded: (call, seconds, error, id) =>
        this.#directCallEnded(call, seconds, error, id),
      peerLink: (peer) => this.peers.detachedLink(peer),
      errorStacks: config.errorStacks,
      connectionLimits: !HAND_OFF_CLIENT_CONNECTIONS
        ? undefined
        : {
            maxPayloadBytes: config.maxPayloadBytes,
            maxInflightPerConnection: config.maxInflightPerConnection,
            maxInflightBytesPerConnection: config.maxInflightBytesPerConnection,
            writeBacklogBytes: config.writeBacklogBytes,
          },
    });
  }

  readonly #pipes = {
    stdout: (chunk: Buffer) => this.#pipeSinks().stdout(chunk),
    stderr: (chunk: Buffer) => this.#pipeSinks().stderr(chunk),
  };

  #sinks: Record<"stdout" | "stderr", (chunk: Buffer) => void> | undefined;

  #pipeSinks(): Record<"stdout" | "stderr", (chunk: Buffer) => void> {
    this.#sinks ??= { stdout: this.logs.pipe("stdout"), stderr: this.logs.pipe("stderr") };
    return this.#sinks;
  }

  /** Worker restarts by cause: oom, timeout (a blocked event loop), start, crash. */
  async #countRestart(dead: WorkerHandle): Promise<void> {
    const error = await dead.crashError("");
    const cause = !dead.wasReady
      ? "start"
      : error.code === "OUT_OF_MEMORY"
        ? "oom"
        : error.message.includes("blocked its event loop")
          ? "timeout"
          : "crash";
    this.meter.workerRestarted(cause);
  }
}

function stateWalOp(op: StateOp, updatedAt: number): WalOp {
  if (op.value === undefined) return { kind: "delete", key: op.key };
  return { kind: "put", key: op.key, value: op.value, updatedAt };
}

/** What a failed snapshot write tells the caller: STORAGE_ERROR naming the cause (e.g. ENOSPC). */
function ensureStorageError(error: unknown, key: string): PraaSError {
  if (error instanceof PraaSError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new PraaSError("STORAGE_ERROR", `swap-out could not store ${key}: ${reason}`);
}

/** Like Promise.all, but rejects (with the first failure) only once every promise settled. */
async function allSettled<T extends readonly unknown[]>(promises: {
  [K in keyof T]: Promise<T[K]>;
}): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
