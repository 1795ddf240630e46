/**
 * Control-plane invocations (`POST /apps/:app/invoke/:fn`): sticky to `?process=` (resumed first
 * when swapped), or FaaS style: the least busy active process of the application, or a new one
 * while under the per-app limit. Payloads pass through as bytes over a pooled direct
 * data-plane connection per process.
 */
import { randomBytes } from "node:crypto";
import {
  CONTROL_PLANE_CLIENT,
  PraaSError,
  refusedBeforeRunning,
  asBuffer,
  functionNotFound,
  type ConnectionInfo,
} from "../protocol/index.js";
import { connect, type ProcessConnection } from "../sdk/connection.js";
import { connectionRefused } from "../transport/index.js";
import type { MetadataStore, ProcessRecord } from "../storage/index.js";
import type { ControlPlaneConfig } from "./config.js";
import type { ProcessManager } from "./process-manager.js";
import { cutOff } from "./processes/errors.js";
import type { InvocationOutput } from "./service.js";

/** The first pause before a refused sticky call is sent again; it doubles up to the longest. */
const RETRY_PAUSE_MS = 10;
const LONGEST_RETRY_PAUSE_MS = 500;

interface Pooled {
  token: string;
  connection: Promise<ProcessConnection>;
}

export class Invoker {
  readonly #pool = new Map<string, Pooled>();
  readonly #inflight = new Map<string, number>();
  readonly #allocating = new Map<string, Promise<ProcessRecord>>();
  /** Active processes by `app/name`, fed by the store's change notices. */
  readonly #active = new Map<string, ProcessRecord>();
  #unsubscribe: (() => Promise<void>) | undefined;

  readonly #config: ControlPlaneConfig;
  readonly #store: MetadataStore;
  readonly #manager: ProcessManager;
  /** A record's connection as it can be dialled now (a fresh pairing when behind NAT). */
  readonly #dialable: (record: ProcessRecord) => Promise<ConnectionInfo>;

  constructor(
    config: ControlPlaneConfig,
    store: MetadataStore,
    manager: ProcessManager,
    dialable: (record: ProcessRecord) => Promise<ConnectionInfo> = (record) =>
      Promise.resolve(record.connection as ConnectionInfo),
  ) {
    this.#config = config;
    this.#store = store;
    this.#manager = manager;
    this.#dialable = dialable;
  }

  /**
   * Keeps the record cache current with every replica's changes; after notices may have been
   * missed (Redis reconnected, possibly empty), it starts over from the store.
   */
  async start(): Promise<void> {
    this.#unsubscribe = await this.#store.subscribe(
      ({ app, name, record }) => {
        if (record?.status === "active") this.#active.set(`${app}/${name}`, record);
        else this.#active.delete(`${app}/${name}`);
      },
      () => this.#active.clear(),
    );
  }

  async stop(): Promise<void> {
    await this.#unsubscribe?.();
    this.closeAll();
  }

  async invoke(
    app: string,
    fn: string,
    payload: Buffer,
    process?: string,
    create = false,
  ): Promise<InvocationOutput> {
    if (process) return this.#sticky(app, fn, payload, process, create);
    const appRecord = await this.#store.getApp(app);
    if (!appRecord) throw new PraaSError("APP_NOT_FOUND", `no application ${app}`);
    if (!appRecord.functions.includes(fn)) {
      throw functionNotFound(`application ${app}`, fn, appRecord.functions);
    }
    const record = await this.#pick(app);
    return { process: record.name, output: asBuffer(await this.#call(record, fn, payload)) };
  }

  /**
   * The hot path: a cached active record and a pooled connection, no store access. The process
   * itself answers FUNCTION_NOT_FOUND. A process that turned out to be on its way out (it
   * refused the call before running it) is looked up again (see #stickyAgain).
   */
  async #sticky(
    app: string,
    fn: string,
    payload: Buffer,
    process: string,
    create: boolean,
  ): Promise<InvocationOutput> {
    const cached = this.#active.get(`${app}/${process}`);
    if (cached) {
      try {
        return { process, output: asBuffer(await this.#call(cached, fn, payload)) };
      } catch (error) {
        if (!refusedBeforeRunning(error)) throw error;
      }
    }
    return this.#stickyAgain(app, fn, payload, process, create);
  }

  /**
   * A sticky call without a usable cached record: the process is made active (after a swap
   * under way ends, resumed) and called; while it refuses the call before running it (it began
   * swapping out again meanwhile), that repeats until the start timeout. Only calls refused
   * before they ran are sent again, so a function never runs twice for one request. A process
   * that cannot be reached while its record stays as it was is not asked again: nothing
   * suggests a second try would fare better.
   */
  async #stickyAgain(
    app: string,
    fn: string,
    payload: Buffer,
    process: string,
    create: boolean,
  ): Promise<InvocationOutput> {
    const deadline = Date.now() + this.#config.startTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const left = Math.max(deadline - Date.now(), 1);
      const record = await this.#ensureActive(app, process, create && attempt === 0, left);
      try {
        return { process, output: asBuffer(await this.#call(record, fn, payload)) };
      } catch (error) {
        if (!refusedBeforeRunning(error) || Date.now() >= deadline) throw error;
        // Recorded active but gone (its death could not be recorded): failed now, resumed next.
        if (connectionRefused(error)) await this.#manager.failUnreachable(record, String(error));
        if (unreachable(error) && (await this.#unchanged(record))) throw error;
        // A process that drains before its record says so (one stopped by a signal) would
        // otherwise be asked again at once, over and over.
        await pause(Math.min(RETRY_PAUSE_MS * 2 ** attempt, LONGEST_RETRY_PAUSE_MS));
      }
    }
  }

  /** Whether the stored record is still the one `seen` was read from. */
  async #unchanged(seen: ProcessRecord): Promise<boolean> {
    return (await this.#store.getProcess(seen.app, seen.name))?.revision === seen.revision;
  }

  async #ensureActive(
    app: string,
    process: string,
    create: boolean,
    timeoutMs: number,
  ): Promise<ProcessRecord> {
    if (create) await this.#createIfMissing(app, process);
    try {
      const record = await this.#manager.ensureActive(app, process, timeoutMs);
      this.#active.set(`${app}/${process}`, record);
      return record;
    } catch (error) {
      const missingApp =
        error instanceof PraaSError &&
        error.code === "PROCESS_NOT_FOUND" &&
        !(await this.#store.getApp(app));
      throw missingApp ? new PraaSError("APP_NOT_FOUND", `no application ${app}`) : error;
    }
  }

  /**
   * Get-or-create: a process that does not exist is created with the application's defaults;
   * one that exists (or that a concurrent call is creating) is left as it is.
   */
  async #createIfMissing(app: string, process: string): Promise<void> {
    if (await this.#store.getProcess(app, process)) return;
    await this.#manager.create(app, process, {}).catch((error: unknown) => {
      if (!(error instanceof PraaSError && error.code === "ALREADY_EXISTS")) throw error;
    });
  }

  closeAll(): void {
    for (const pooled of this.#pool.values())
      void pooled.connection.then(
        (c) => c.close(),
        () => undefined,
      );
    this.#pool.clear();
  }

  async #call(record: ProcessRecord, fn: string, payload: Buffer): Promise<Uint8Array> {
    const id = `${record.app}/${record.name}`;
    this.#inflight.set(id, (this.#inflight.get(id) ?? 0) + 1);
    try {
      return await (await this.#connection(record)).invoke(fn, payload);
    } catch (error) {
      throw cutOff(error, `process ${id} ended before it answered; the call may have run`);
    } finally {
      this.#inflight.set(id, (this.#inflight.get(id) ?? 1) - 1);
    }
  }

  async #pick(app: string): Promise<ProcessRecord> {
    const records = await this.#store.listProcesses(app);
    const active = records.filter((r) => r.status === "active");
    const least = active.sort((a, b) => this.#load(a) - this.#load(b))[0];
    if (least && this.#load(least) < this.#config.maxInflightPerProcess) return least;
    if (active.length < this.#config.maxAutoProcesses) return this.#allocate(app, records);
    if (least) return least;
    return this.#allocate(app, records);
  }

  /** One allocation at a time per app, shared by the invocations that asked for it. */
  #allocate(app: string, records: ProcessRecord[]): Promise<ProcessRecord> {
    let pending = this.#allocating.get(app);
    if (!pending) {
      pending = this.#bringUp(app, records);
      this.#allocating.set(app, pending);
      void pending.finally(() => this.#allocating.delete(app)).catch(() => undefined);
    }
    return pending;
  }

  /**
   * An auto-allocated process swapped out when idle (or failed) is resumed before a new one is
   * made: otherwise every idle period would leave one more swapped process behind.
   */
  #bringUp(app: string, records: ProcessRecord[]): Promise<ProcessRecord> {
    const resting = records.find(
      (r) => r.autoAllocated === true && (r.status === "swapped" || r.status === "failed"),
    );
    if (resting) return this.#manager.ensureActive(app, resting.name, this.#config.startTimeoutMs);
    return this.#manager.create(app, `auto-${randomBytes(3).toString("hex")}`, {}, true);
  }

  #load(record: ProcessRecord): number {
    return this.#inflight.get(`${record.app}/${record.name}`) ?? 0;
  }

  /** A pooled connection, redialled when the process moved (new token) or the link closed. */
  async #connection(record: ProcessRecord): Promise<ProcessConnection> {
    const id = `${record.app}/${record.name}`;
    const info = record.connection;
    if (!info) throw new PraaSError("INVALID_STATE", `process ${id} has no connection`);
    const pooled = this.#pool.get(id);
    if (pooled && pooled.token === info.token) {
      const open = await pooled.connection.catch(() => undefined);
      if (open && !open.closed) return open;
    }
    // Introduced as the control plane's: this pooled connection stays open, but it is not a
    // client's, so it does not keep the process from being swapped out when idle.
    const connection = this.#dialable(record).then((dialable) =>
      connect(dialable, { name: CONTROL_PLANE_CLIENT }),
    );
    this.#pool.set(id, { token: info.token, connection });
    connection.catch(() => this.#pool.delete(id));
    return connection;
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The process could not be reached (as opposed to refusing the call while swapping out). */
function unreachable(error: unknown): boolean {
  return error instanceof PraaSError && error.code === "PEER_UNAVAILABLE";
}
