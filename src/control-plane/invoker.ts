/**
 * Control-plane invocations (`POST /apps/:app/invoke/:fn`): sticky to `?process=` (resumed first
 * when swapped), or FaaS style: the least busy active process of the application, or a new one
 * while under the per-app limit. Payloads pass through as bytes over a pooled direct
 * data-plane connection per process.
 */
import { randomBytes } from "node:crypto";
import { PraaSError } from "../protocol/index.js";
import { connect, type ProcessConnection } from "../sdk/connection.js";
import type { MetadataStore, ProcessRecord } from "../storage/index.js";
import type { ControlPlaneConfig } from "./config.js";
import type { ProcessManager } from "./process-manager.js";
import type { InvocationOutput } from "./service.js";

interface Pooled {
  token: string;
  connection: Promise<ProcessConnection>;
}

export class Invoker {
  readonly #pool = new Map<string, Pooled>();
  readonly #inflight = new Map<string, number>();
  readonly #allocating = new Map<string, Promise<ProcessRecord>>();

  constructor(
    private readonly config: ControlPlaneConfig,
    private readonly store: MetadataStore,
    private readonly manager: ProcessManager,
  ) {}

  async invoke(
    app: string,
    fn: string,
    payload: Buffer,
    process?: string,
  ): Promise<InvocationOutput> {
    const appRecord = await this.store.getApp(app);
    if (!appRecord) throw new PraaSError("APP_NOT_FOUND", `no application ${app}`);
    if (!appRecord.functions.includes(fn)) {
      throw new PraaSError("FUNCTION_NOT_FOUND", `application ${app} has no function "${fn}"`);
    }
    const record = process
      ? await this.manager.ensureActive(app, process, this.config.startTimeoutMs)
      : await this.#pick(app);
    return { process: record.name, output: Buffer.from(await this.#call(record, fn, payload)) };
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
    } finally {
      this.#inflight.set(id, (this.#inflight.get(id) ?? 1) - 1);
    }
  }

  async #pick(app: string): Promise<ProcessRecord> {
    const active = (await this.store.listProcesses(app)).filter((r) => r.status === "active");
    const least = active.sort((a, b) => this.#load(a) - this.#load(b))[0];
    if (least && this.#load(least) < this.config.maxInflightPerProcess) return least;
    if (active.length < this.config.maxAutoProcesses) return this.#allocate(app);
    if (least) return least;
    return this.#allocate(app);
  }

  /** One allocation at a time per app, shared by the invocations that asked for it. */
  #allocate(app: string): Promise<ProcessRecord> {
    let pending = this.#allocating.get(app);
    if (!pending) {
      pending = this.manager.create(app, `auto-${randomBytes(3).toString("hex")}`, {}, true);
      this.#allocating.set(app, pending);
      void pending.finally(() => this.#allocating.delete(app)).catch(() => undefined);
    }
    return pending;
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
    const connection = connect(info);
    this.#pool.set(id, { token: info.token, connection });
    connection.catch(() => this.#pool.delete(id));
    return connection;
  }
}
