/**
 * A cloud process: the state, the mailbox, the workers, the data plane and the peers of one
 * named instance of an application, and its lifecycle (start or restore → active →
 * swap out or stop). This object never runs user code; its workers do.
 */
import type { Logger } from "pino";
import { FrameType, PraaSError, SELF, encodeFields } from "../protocol/index.js";
import type { FrameLink } from "../transport/index.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { ProcessConfig } from "./config.js";
import { DataPlaneServer } from "./dataplane-server.js";
import { Mailbox } from "./mailbox.js";
import { Peers } from "./peers.js";
import { decodeSnapshot, encodeSnapshot, type StateEntry } from "./snapshot.js";
import { MemoryGuard } from "./memory-guard.js";
import { StateStore, StorageQuota } from "./state-store.js";
import { answerWorkerCall, ownBytes, type CallTarget } from "./worker-calls.js";
import { WorkerPool } from "./worker-pool.js";
import { WorkerSandbox } from "./worker-sandbox.js";

export type RuntimeStatus = "starting" | "active" | "swapping" | "swapped" | "stopped";

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
  readonly #memory: MemoryGuard;
  readonly #sandbox: WorkerSandbox;
  readonly #pool: WorkerPool;
  readonly #dataPlane: DataPlaneServer;
  readonly #blobs: BlobStore;
  readonly #log: Logger;
  #status: RuntimeStatus = "starting";
  #port = 0;
  #invocations = 0;
  readonly #bootId = Date.now().toString(36);

  constructor(
    config: ProcessConfig,
    blobs: BlobStore,
    log: Logger,
    resumePeer?: (name: string) => Promise<void>,
  ) {
    this.config = config;
    this.#blobs = blobs;
    this.#log = log;
    const quota = new StorageQuota(config.maxStoredBytes);
    this.state = new StateStore(quota);
    this.mailbox = new Mailbox(quota);
    this.#memory = this.#createMemoryGuard();
    this.peers = new Peers(
      {
        self: config.name,
        peerSecret: config.peerSecret,
        maxPayloadBytes: config.maxPayloadBytes,
        resume: resumePeer,
      },
      config.peers,
    );
    this.#sandbox = this.#createSandbox();
    this.#pool = this.#createPool();
    this.#dataPlane = new DataPlaneServer(
      { ...config, process: config.name },
      {
        invoke: (fn, payload) => this.#external(fn, payload),
        deliver: (s, k, v) => this.#deliver(s, k, v),
      },
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

  get defaultGetTimeoutMs(): number {
    return this.config.invocationTimeoutMs;
  }

  get workerPids(): number[] {
    return this.#pool.pids;
  }

  get snapshotKey(): string {
    return `swaps/${this.config.application}/${this.config.name}`;
  }

  /** Restores state (with --restore), starts the workers, then opens the data plane. */
  async start(): Promise<void> {
    this.#memory.start(); // before the workers, so they start inside the process's cgroup
    const [functions] = await Promise.all([
      this.#sandbox.prepare().then(() => this.#pool.start()),
      this.config.restore ? this.#restore() : null,
    ]);
    this.#port = await this.#dataPlane.listen(this.config.host, this.config.port);
    if (this.config.restore) await this.#blobs.delete(this.snapshotKey);
    this.#status = "active";
    const memory = `${this.config.memoryMiB} MiB (${this.#memory.enforcement})`;
    const workers = this.config.workers;
    this.#log.info({ port: this.#port, functions, workers, memory }, "process active");
  }

  /** Runs a function here, or in a peer when `process` names another process. */
  invoke(functionName: string, payload: Buffer, process = ""): Promise<Buffer> {
    if (process !== "" && process !== SELF && process !== this.config.name) {
      return this.peers.invoke(process, functionName, payload);
    }
    return this.#pool.invoke(functionName, payload, this.#nextInvocationId());
  }

  sendToPeer(peer: string, key: string, value: Buffer): Promise<void> {
    return this.peers.put(peer, key, value);
  }

  stateChanged(key: string, from: FrameLink): void {
    this.#pool.broadcast(FrameType.StateChanged, encodeFields([key]), from);
  }

  processes(): { active: string[]; swapped: string[] } {
    return this.peers.list();
  }

  /**
   * Swap-out: stop taking work, let running invocations finish (bounded by the drain timeout),
   * write state and undelivered messages to the blob store, and stop. Resolves the stored size.
   */
  async swapOut(): Promise<SwapResult> {
    if (this.#status !== "active")
      throw new PraaSError("INVALID_STATE", `cannot swap a ${this.#status} process`);
    this.#status = "swapping";
    const drained = await this.#pool.drained(this.config.drainTimeoutMs);
    if (!drained)
      this.#log.warn("swap: invocations still running after the drain timeout; stopping them");
    await this.#stopServing();
    const { size } = await this.#blobs.put(
      this.snapshotKey,
      encodeSnapshot(this.#stateEntries(), this.mailbox.messages()),
    );
    this.#status = "swapped";
    this.#log.info({ size, key: this.snapshotKey }, "swapped out");
    return { size, key: this.snapshotKey };
  }

  /** Stops without saving state. */
  async stop(): Promise<void> {
    if (this.#status === "stopped" || this.#status === "swapped") return;
    this.#status = "stopped";
    await this.#stopServing();
  }

  async #stopServing(): Promise<void> {
    this.mailbox.rejectWaiters(new PraaSError("UNAVAILABLE", "the process is stopping"));
    await this.#pool.stop();
    this.#memory.stop();
    await this.#dataPlane.close();
    this.peers.closeAll();
    await this.#sandbox.remove();
  }

  async #restore(): Promise<void> {
    const stream = await this.#blobs.get(this.snapshotKey);
    if (stream === undefined)
      throw new PraaSError("STORAGE_ERROR", `no swapped state at ${this.snapshotKey}`);
    const snapshot = await decodeSnapshot(stream);
    for (const entry of snapshot.state) this.state.put(entry.key, entry.value, entry.updatedAt);
    for (const message of snapshot.messages) this.mailbox.put(message);
    this.#log.info(
      { keys: snapshot.state.length, messages: snapshot.messages.length },
      "state restored",
    );
  }

  *#stateEntries(): Generator<StateEntry> {
    for (const [key, entry] of this.state.entries()) yield { key, ...entry };
  }

  #external(functionName: string, payload: Buffer): Promise<Buffer> {
    if (this.#status !== "active") {
      return Promise.reject(new PraaSError("UNAVAILABLE", `the process is ${this.#status}`));
    }
    return this.#pool.invoke(functionName, payload, this.#nextInvocationId());
  }

  #deliver(source: string, key: string, value: Buffer): void {
    if (this.#status !== "active" && this.#status !== "swapping") {
      throw new PraaSError("UNAVAILABLE", `the process is ${this.#status}`);
    }
    this.mailbox.put({ key, source, value: ownBytes(value) });
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
    });
  }

  #createSandbox(): WorkerSandbox {
    const config = this.config;
    return new WorkerSandbox({
      application: config.application,
      processName: config.name,
      bundlePath: config.bundlePath,
      appEnv: config.appEnv,
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
      workers: config.workers,
      memoryMiB: config.memoryMiB,
      maxPayloadBytes: config.maxPayloadBytes,
      invocationTimeoutMs: config.invocationTimeoutMs,
      maxInflight: config.maxInflight,
      storageFree: () => this.state.quota.free,
      memory: this.#memory,
      onCall: (frame, link) => answerWorkerCall(this, frame, link),
      log: (message, fields) => this.#log.warn(fields ?? {}, message),
    });
  }
}
