/**
 * The workers of one process. Dispatch sends each invocation to the live worker with the fewest
 * invocations in flight; a worker runs several at once, so a function waiting in `get` or
 * `invoke` never blocks the others (recursion works with one worker). A worker that dies fails
 * its in-flight invocations with WORKER_CRASHED and is replaced; an invocation past its deadline
 * fails with TIMEOUT and its worker is killed and replaced.
 */
import {
  FrameType,
  PraaSError,
  encodeFields,
  ensurePraaSError,
  functionNotFound,
  exportedName,
  type Frame,
  type SerializeSetting,
} from "../protocol/index.js";
import type { FrameLink } from "../transport/index.js";
import type { HandedConnection } from "./dataplane-server.js";
import type { DirectCall } from "./direct-ledger.js";
import { InputGate } from "./input-gate.js";
import { WorkerHandle, type WorkerSpec } from "./worker-handle.js";
import { heapMiBFor } from "./worker-spawn.js";
import type { ConnectionLimits, HandOff } from "./worker/direct.js";

/** How long a worker whose invocation timed out has to answer a ping before it counts as blocked. */
const PING_TIMEOUT_MS = 1000;

export interface PoolOptions extends Omit<WorkerSpec, "heapMiB"> {
  workers: number;
  memoryMiB: number;
  invocationTimeoutMs: number;
  /** Invocations in flight in the whole process (calls between functions included). */
  maxInflight: number;
  /** Bytes of state and mailbox the process can still take; sent along with each invocation. */
  storageFree(): number;
  /** Reports pool events worth a log line. */
  log(message: string, fields?: Record<string, unknown>): void;
  /** Functions whose invocations run one at a time (praas.json "serialize"); default none. */
  serialize?: SerializeSetting;
  /** A worker died and is being replaced (metrics count the cause). */
  replaced?: (dead: WorkerHandle) => void;
  /** Function stack traces go to direct callers too (config errorStacks). */
  errorStacks?: boolean;
  /** The limits of a data-plane connection, for connections handed to workers. */
  connectionLimits?: Omit<ConnectionLimits, "maxInflight" | "invocationTimeoutMs">;
}

/** One invocation as the pool runs it. */
interface CallInfo {
  fn: string;
  id: string;
  /** What is left of its deadline once a worker was picked. */
  timeoutMs: number;
}

export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #spec: WorkerSpec;
  readonly #gate: InputGate;
  #workers: WorkerHandle[] = [];
  #functions: ReadonlySet<string> = new Set();
  #inflight = 0;
  #stopping = false;
  #idleWaiters: (() => void)[] = [];
  #readyWaiters: (() => void)[] = [];
  #connections = 0;
  /** Draining for a swap: workers refuse new direct calls. */
  #draining = false;

  constructor(options: PoolOptions) {
    this.#options = options;
    this.#spec = {
      ...options,
      heapMiB: heapMiBFor(options.memoryMiB, options.workers),
      localCalls: {
        serialize: options.serialize ?? false,
        errorStacks: options.errorStacks ?? false,
        maxInflight: options.maxInflight,
        invocationTimeoutMs: options.invocationTimeoutMs,
      },
      directCalls: (delta) => this.#countInflight(delta),
      directDeadline: (worker, call) => this.#directDeadline(worker, call),
    };
    this.#gate = new InputGate(options.serialize ?? false);
  }

  /**
   * Has every worker load the application: the live `prestarted` ones (a warm-pool slot's,
   * started with this pool's heap limit and sandbox), and new ones for the rest. Rejects with
   * BUILD_FAILED when the application does not load.
   */
  async start(prestarted: readonly WorkerHandle[] = []): Promise<string[]> {
    process.on("exit", this.#killAllNow);
    const alive = prestarted.filter((w) => w.alive).slice(0, this.#options.workers);
    const fresh = this.#options.workers - alive.length;
    this.#workers = [...alive, ...Array.from({ length: fresh }, () => this.#newWorker())];
    for (const worker of this.#workers) this.#adopt(worker);
    try {
      const [names = []] = await Promise.all(this.#workers.map((w) => w.ready));
      this.#functions = new Set(names);
      return names;
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  get functions(): ReadonlySet<string> {
    return this.#functions;
  }

  get inflight(): number {
    return this.#inflight;
  }

  get pids(): number[] {
    return this.#workers.flatMap((w) => (w.pid === undefined ? [] : [w.pid]));
  }

  async invoke(functionName: string, payload: Uint8Array, invocationId: string): Promise<Buffer> {
    if (!this.#functions.has(exportedName(functionName))) {
      const name = exportedName(functionName);
      throw functionNotFound("the application", name, this.#functions);
    }
    if (this.#stopping) throw new PraaSError("UNAVAILABLE", "the process is stopping");
    if (this.#inflight >= this.#options.maxInflight) {
      const limit = this.#options.maxInflight;
      throw new PraaSError("TOO_MANY_REQUESTS", `the process has ${limit} invocations in flight`);
    }
    this.#countInflight(1);
    try {
      return await this.#gated(functionName, payload, invocationId);
    } finally {
      this.#countInflight(-1);
    }
  }

  #countInflight(delta: number): void {
    this.#inflight += delta;
    if (this.#inflight === 0) this.#wakeIdle();
  }

  /** Client connections workers serve. */
  get handedOff(): number {
    let connections = 0;
    for (const worker of this.#workers) connections += worker.direct.size;
    return connections;
  }

  /**
   * Hands a client connection to the least-loaded worker, which answers its HELLO and serves
   * it; false when no worker can take it now (the caller serves it itself).
   */
  handOff(client: HandedConnection, released: () => void): boolean {
    const limits = this.#options.connectionLimits;
    const worker = this.#fewestConnections();
    if (limits === undefined || worker === undefined || this.#draining) return false;
    const message: HandOff = {
      kind: "praas-connection",
      connection: ++this.#connections,
      rest: client.detach().toString("base64"),
      serialize: this.#options.serialize ?? false,
      free: this.#options.storageFree(),
      errorStacks: this.#options.errorStacks ?? false,
      limits: this.#limits(limits),
    };
    worker.handOff(client.socket, message, released);
    return true;
  }

  /**
   * The worker to take a new connection: the one serving the fewest, then the least loaded, so
   * a client's connections (one per worker) land on different workers.
   */
  #fewestConnections(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const worker of this.#workers) {
      if (!worker.canTake) continue;
      if (best === undefined || loadOf(worker) < loadOf(best)) best = worker;
    }
    return best;
  }

  #limits(limits: NonNullable<PoolOptions["connectionLimits"]>): ConnectionLimits {
    const { maxInflight, invocationTimeoutMs } = this.#options;
    return { ...limits, maxInflight, invocationTimeoutMs };
  }

  /**
   * Makes workers refuse (or take again) new calls on their connections. Resolves once each
   * live worker answered: every call it started before is counted in `inflight` by then.
   */
  async drainDirect(on: boolean): Promise<void> {
    this.#draining = on;
    const answers = this.#workers.filter((worker) => worker.alive).map((w) => w.drain(on));
    await Promise.allSettled(answers);
  }

  /**
   * Waits for the input gate when the function is serialized (the wait counts against the
   * call's deadline), runs the call, and lets the next one in when it ends or times out.
   */
  async #gated(functionName: string, payload: Uint8Array, id: string): Promise<Buffer> {
    const timeoutMs = this.#options.invocationTimeoutMs;
    // The hot path stays as it was: no gate, no extra tick.
    if (!this.#gate.gates(functionName))
      return this.#dispatch({ fn: functionName, id, timeoutMs }, payload);
    const queuedAt = Date.now();
    const release = await this.#gate.enter(functionName, timeoutMs);
    try {
      const leftMs = Math.max(1, timeoutMs - (Date.now() - queuedAt));
      return await this.#dispatch({ fn: functionName, id, timeoutMs: leftMs }, payload);
    } finally {
      release();
    }
  }

  async #dispatch(call: CallInfo, payload: Uint8Array): Promise<Buffer> {
    // Pick synchronously when a worker is free, so concurrent calls see each other's load.
    const worker = this.#leastLoaded() ?? (await this.#waitForWorker());
    return await this.#run(worker, call, payload);
  }

  /** Resolves once no invocation is running, or after `timeoutMs`; resolves whether it drained. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.#inflight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Tells every worker that `peer` moved or left. */
  peerMoved(peer: string): void {
    for (const worker of this.#workers) worker.peerMoved(peer);
  }

  /** Sends a one-way frame to every worker but `except`. */
  broadcast(type: FrameType, meta: Uint8Array, except?: FrameLink): void {
    for (const worker of this.#workers) {
      if (worker.link !== except) worker.link.send(type, 0, meta);
    }
  }

  async stop(graceMs = 2000): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#workers.map((w) => w.stop(graceMs)));
    process.off("exit", this.#killAllNow);
  }

  /**
   * The process is exiting (however it exits, e.g. process.exit mid-swap): no worker may
   * outlive it, not even one stuck in a synchronous loop. Synchronous, as exit handlers must be.
   */
  readonly #killAllNow = (): void => {
    for (const worker of this.#workers) worker.child.kill("SIGKILL");
  };

  async #run(worker: WorkerHandle, call: CallInfo, payload: Uint8Array): Promise<Buffer> {
    const { fn, id } = call;
    worker.inflight++;
    const free = String(this.#options.storageFree());
    const request = worker.link.request(FrameType.Invoke, encodeFields([fn, id, free]), payload);
    // The worker is busy with it until it answers, even after its caller got TIMEOUT.
    const done = (): void => void worker.inflight--;
    request.then(done, done);
    try {
      return (await this.#withDeadline(request, worker, call)).payload;
    } catch (error) {
      throw await this.#explain(error, worker, fn);
    }
  }

  /** The reply, or TIMEOUT at the deadline (the worker may still answer; that answer is dropped). */
  #withDeadline(request: Promise<Frame>, worker: WorkerHandle, call: CallInfo): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(
        () => void this.#onDeadline(worker, call.fn, call.id).then(reject),
        call.timeoutMs,
      );
      request.then(
        (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(ensurePraaSError(error));
        },
      );
    });
  }

  /** A request that failed because the worker's link closed: say why the worker died. */
  async #explain(error: unknown, worker: WorkerHandle, fn: string): Promise<unknown> {
    if (!(error instanceof PraaSError) || error.code !== "CONNECTION_CLOSED") return error;
    return await worker.crashError(fn);
  }

  /**
   * The error of an invocation past its deadline. The first one on a worker fails with TIMEOUT
   * at once and pings the worker; one whose deadline passes while that ping is out waits for
   * it: if the worker turns out blocked, it fails with the reason the worker was killed.
   */
  async #onDeadline(worker: WorkerHandle, fn: string, id: string): Promise<PraaSError> {
    const timeout = new PraaSError(
      "TIMEOUT",
      `${fn} did not finish within ${this.#options.invocationTimeoutMs} ms`,
    );
    const probing = worker.probing;
    if (probing === undefined) {
      void this.#killIfBlocked(worker, fn, id);
      return timeout;
    }
    return (await probing) ? timeout : await worker.crashError(fn);
  }

  /** Kills the worker only when its event loop is blocked: a slow async call hurts nobody. */
  async #killIfBlocked(worker: WorkerHandle, fn: string, id: string): Promise<void> {
    const fields = { fn, invocationId: id, workerPid: worker.pid };
    if (!worker.alive || (await worker.probe(PING_TIMEOUT_MS))) {
      this.#options.log("invocation timed out; its worker is responsive and lives on", fields);
      this.#wakeReady();
      return;
    }
    const ms = this.#options.invocationTimeoutMs;
    this.#options.log("invocation timed out and its worker is blocked; killing it", fields);
    worker.kill(
      `worker killed: invocation ${id} of ${fn} blocked its event loop past its ${ms} ms timeout`,
    );
  }

  /** A call on a handed-over connection is late: kill its worker if the call blocks it. */
  #directDeadline(worker: WorkerHandle, call: DirectCall): void {
    void this.#killIfBlocked(worker, call.fn, worker.invocationId(call.invocation));
  }

  async #waitForWorker(): Promise<WorkerHandle> {
    for (;;) {
      const worker = this.#leastLoaded();
      if (worker) return worker;
      await new Promise<void>((resolve) => this.#readyWaiters.push(resolve));
    }
  }

  #leastLoaded(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const worker of this.#workers) {
      if (worker.usable && (best === undefined || worker.inflight < best.inflight)) best = worker;
    }
    return best;
  }

  #newWorker(): WorkerHandle {
    return new WorkerHandle(this.#spec);
  }

  /** Gives the worker this process and watches it: replaced when it dies. */
  #adopt(worker: WorkerHandle): WorkerHandle {
    worker.assign(this.#spec);
    void worker.ready.then(
      () => this.#wakeReady(),
      () => undefined,
    );
    void worker.exited.then(() => this.#replace(worker));
    return worker;
  }

  #replace(dead: WorkerHandle): void {
    this.#workers = this.#workers.filter((w) => w !== dead);
    if (this.#stopping) return;
    this.#options.log("worker died; starting a replacement", { workerPid: dead.pid });
    this.#options.replaced?.(dead);
    // A worker that died before it was ready would die again at once: do not spin.
    const delayMs = dead.wasReady ? 0 : 1000;
    setTimeout(() => {
      if (!this.#stopping) this.#workers.push(this.#adopt(this.#newWorker()));
    }, delayMs);
  }

  #wakeReady(): void {
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const wake of waiters) wake();
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

/** Connections first, calls in flight to break ties. */
function loadOf(worker: WorkerHandle): number {
  return worker.direct.size * 1_000_000 + worker.inflight;
}
