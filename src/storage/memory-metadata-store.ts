/* eslint-disable @typescript-eslint/require-await -- the interface is async; this store answers
   at once, and `async` still turns a thrown INVALID_NAME into a rejection as callers expect. */
/**
 * MetadataStore in process memory, for a single control plane and for tests. `peer()` opens a
 * second instance over the same state, the way a second replica shares one Redis.
 */
import { randomBytes } from "node:crypto";
import type {
  AppRecord,
  MetadataStore,
  ProcessChange,
  ProcessPatch,
  ProcessRecord,
  ReplicaRecord,
} from "./metadata-store.js";
import type { ChangeListener } from "./records.js";
import {
  applyPatch,
  assertProcessId,
  byName,
  copyData,
  deepFreeze,
  notifyAll,
  withoutUndefined,
} from "./records.js";
import { assertName } from "../protocol/names.js";

/** What a memory store holds that must outlive a restart (replicas re-announce themselves). */
export interface StoredRecords {
  apps: AppRecord[];
  processes: ProcessRecord[];
  secret: string;
}

interface SharedState {
  apps: Map<string, AppRecord>;
  /** app name → process name → record */
  processes: Map<string, Map<string, ProcessRecord>>;
  listeners: Set<ChangeListener>;
  /** replica id → its record and when it expires (ms since the epoch) */
  replicas: Map<string, { replica: ReplicaRecord; expiresAt: number }>;
  secret: string;
}

export class MemoryMetadataStore implements MetadataStore {
  readonly kind = "memory";
  private state: SharedState = {
    apps: new Map(),
    processes: new Map(),
    listeners: new Set(),
    replicas: new Map(),
    secret: randomBytes(24).toString("base64url"),
  };
  /** This instance's subscriptions, dropped on close. */
  private readonly own = new Set<ChangeListener>();

  /** Another instance over the same records and subscribers. */
  peer(): MemoryMetadataStore {
    const other = new MemoryMetadataStore();
    other.state = this.state;
    return other;
  }

  /** A store over `records` (as {@link records} gave them, e.g. read back from a file). */
  static from(records: StoredRecords): MemoryMetadataStore {
    const store = new MemoryMetadataStore();
    store.state.secret = records.secret;
    for (const app of records.apps) store.state.apps.set(app.name, copyData(app));
    for (const record of records.processes)
      store.processesOf(record.app).set(record.name, deepFreeze(copyData(record)));
    return store;
  }

  /** A copy of every application and process record, and the cluster secret. */
  records(): StoredRecords {
    const processes = [...this.state.processes.values()].flatMap((byName) => [...byName.values()]);
    return copyData({
      apps: [...this.state.apps.values()],
      processes,
      secret: this.state.secret,
    });
  }

  async putApp(app: AppRecord): Promise<void> {
    assertName(app.name, "application");
    this.state.apps.set(app.name, copyData(withoutUndefined(app)));
  }

  async putAppIf(app: AppRecord, expectedVersion: number | undefined): Promise<boolean> {
    assertName(app.name, "application");
    if (this.state.apps.get(app.name)?.version !== expectedVersion) return false;
    this.state.apps.set(app.name, copyData(withoutUndefined(app)));
    return true;
  }

  async getApp(name: string): Promise<AppRecord | undefined> {
    assertName(name, "application");
    return copy(this.state.apps.get(name));
  }

  async listApps(): Promise<AppRecord[]> {
    return [...this.state.apps.values()].map((app) => copyData(app)).sort(byName);
  }

  async deleteApp(name: string): Promise<boolean> {
    assertName(name, "application");
    return this.state.apps.delete(name);
  }

  async createProcess(record: ProcessRecord): Promise<boolean> {
    assertProcessId(record.app, record.name);
    const processes = this.processesOf(record.app);
    if (processes.has(record.name)) return false;
    this.store(copyData(withoutUndefined(record)));
    return true;
  }

  async getProcess(app: string, name: string): Promise<ProcessRecord | undefined> {
    assertProcessId(app, name);
    return copy(this.state.processes.get(app)?.get(name));
  }

  async listProcesses(app: string): Promise<ProcessRecord[]> {
    assertName(app, "application");
    const records = [...(this.state.processes.get(app)?.values() ?? [])];
    return records.map((record) => copyData(record)).sort(byName);
  }

  /** The stored records themselves: they are frozen when stored and replaced, never changed. */
  async listProcessesReadOnly(app: string): Promise<readonly ProcessRecord[]> {
    assertName(app, "application");
    return [...(this.state.processes.get(app)?.values() ?? [])].sort(byName);
  }

  async updateProcess(
    app: string,
    name: string,
    revision: number,
    patch: ProcessPatch,
  ): Promise<ProcessRecord | undefined> {
    assertProcessId(app, name);
    const current = this.state.processes.get(app)?.get(name);
    if (current?.revision !== revision) return undefined;
    const next = applyPatch(current, copyData(patch));
    this.store(next);
    return copyData(next);
  }

  async deleteProcess(app: string, name: string): Promise<boolean> {
    assertProcessId(app, name);
    const deleted = this.state.processes.get(app)?.delete(name) ?? false;
    if (deleted) this.notify({ app, name, record: undefined });
    return deleted;
  }

  async putReplica(replica: ReplicaRecord, ttlMs: number): Promise<void> {
    assertName(replica.id, "replica");
    const entry = { replica: copyData(replica), expiresAt: Date.now() + ttlMs };
    this.state.replicas.set(replica.id, entry);
  }

  async getReplica(id: string): Promise<ReplicaRecord | undefined> {
    const entry = this.state.replicas.get(id);
    if (entry === undefined || entry.expiresAt <= Date.now()) return undefined;
    return copyData(entry.replica);
  }

  async deleteReplica(id: string): Promise<void> {
    this.state.replicas.delete(id);
  }

  async clusterSecret(): Promise<string> {
    return this.state.secret;
  }

  async subscribe(listener: (change: ProcessChange) => void): Promise<() => Promise<void>> {
    // A wrapper per subscription, so subscribing one function twice gives two notices.
    const entry: ChangeListener = (change) => listener(change);
    this.state.listeners.add(entry);
    this.own.add(entry);
    return async () => this.unsubscribe(entry);
  }

  /** In this process's memory: reachable whenever this process runs. */
  ping(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    for (const entry of this.own) this.unsubscribe(entry);
  }

  private processesOf(app: string): Map<string, ProcessRecord> {
    let processes = this.state.processes.get(app);
    if (processes === undefined)
      this.state.processes.set(app, (processes = new Map<string, ProcessRecord>()));
    return processes;
  }

  private store(record: ProcessRecord): void {
    this.processesOf(record.app).set(record.name, deepFreeze(record));
    this.notify({ app: record.app, name: record.name, record });
  }

  private notify(change: ProcessChange): void {
    notifyAll(this.state.listeners, change);
  }

  private unsubscribe(entry: ChangeListener): void {
    this.state.listeners.delete(entry);
    this.own.delete(entry);
  }
}

function copy<T>(value: T | undefined): T | undefined {
  return value === undefined ? undefined : copyData(value);
}
