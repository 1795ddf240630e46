/**
 * MetadataStore in one file under a directory (`praas up`'s default: `<dataDir>/metadata`), for
 * a single control plane that must not forget its applications and processes when restarted.
 * Records live in memory (a {@link MemoryMetadataStore}, so the contract holds the same way) and
 * every change is written before it is acknowledged: the whole record set as JSON to a temp
 * file, fsynced, renamed over `records.json`, then the directory fsynced, so a crash leaves the
 * old file or the new one, never a torn one. Changes made while a write runs share the next
 * write. One control plane per directory: a lock file (see file-lock.ts) refuses a second one.
 * Replica heartbeats are not kept: a single control plane has no peers to tell.
 */
import { mkdir, open, readFile, rename } from "node:fs/promises";
import path from "node:path";
import { PraaSError } from "../protocol/index.js";
import { acquireLock, type FileLock } from "./file-lock.js";
import type {
  AppRecord,
  MetadataStore,
  ProcessChange,
  ProcessPatch,
  ProcessRecord,
  ReplicaRecord,
} from "./metadata-store.js";
import { MemoryMetadataStore, type StoredRecords } from "./memory-metadata-store.js";

const RECORDS_FILE = "records.json";
const FORMAT = 1;

/** What the instances over one directory share: the records, the writer and the lock. */
interface Backing {
  records: MemoryMetadataStore;
  writer: SnapshotWriter;
  lock: FileLock;
  open: number;
}

export class FileMetadataStore implements MetadataStore {
  readonly kind = "file";
  readonly #backing: Backing;
  /** This instance's view (its own subscriptions) over the shared records. */
  readonly #memory: MemoryMetadataStore;
  #closed = false;

  private constructor(backing: Backing) {
    this.#backing = backing;
    this.#memory = backing.records.peer();
    backing.open++;
  }

  /** Takes the directory's lock and reads its records; UNAVAILABLE while another holds it. */
  static async open(dir: string): Promise<FileMetadataStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const lock = await acquireLock(path.join(dir, "lock"), `the metadata directory ${dir}`);
    try {
      const file = path.join(dir, RECORDS_FILE);
      const records = MemoryMetadataStore.from(await readRecords(file));
      const writer = new SnapshotWriter(file, () => records.records());
      return new FileMetadataStore({ records, writer, lock, open: 0 });
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** Another instance over the same records and subscribers (as a second replica would be). */
  peer(): FileMetadataStore {
    return new FileMetadataStore(this.#backing);
  }

  async putApp(app: AppRecord): Promise<void> {
    await this.#memory.putApp(app);
    await this.#persist();
  }

  async putAppIf(app: AppRecord, expectedVersion: number | undefined): Promise<boolean> {
    return this.#persistIf(await this.#memory.putAppIf(app, expectedVersion));
  }

  getApp(name: string): Promise<AppRecord | undefined> {
    return this.#memory.getApp(name);
  }

  listApps(): Promise<AppRecord[]> {
    return this.#memory.listApps();
  }

  async deleteApp(name: string): Promise<boolean> {
    return this.#persistIf(await this.#memory.deleteApp(name));
  }

  async createProcess(record: ProcessRecord): Promise<boolean> {
    return this.#persistIf(await this.#memory.createProcess(record));
  }

  getProcess(app: string, name: string): Promise<ProcessRecord | undefined> {
    return this.#memory.getProcess(app, name);
  }

  listProcesses(app: string): Promise<ProcessRecord[]> {
    return this.#memory.listProcesses(app);
  }

  listProcessesReadOnly(app: string): Promise<readonly ProcessRecord[]> {
    return this.#memory.listProcessesReadOnly(app);
  }

  async updateProcess(
    app: string,
    name: string,
    revision: number,
    patch: ProcessPatch,
  ): Promise<ProcessRecord | undefined> {
    return this.#persistIf(await this.#memory.updateProcess(app, name, revision, patch));
  }

  async deleteProcess(app: string, name: string): Promise<boolean> {
    return this.#persistIf(await this.#memory.deleteProcess(app, name));
  }

  putReplica(replica: ReplicaRecord, ttlMs: number): Promise<void> {
    return this.#memory.putReplica(replica, ttlMs);
  }

  getReplica(id: string): Promise<ReplicaRecord | undefined> {
    return this.#memory.getReplica(id);
  }

  deleteReplica(id: string): Promise<void> {
    return this.#memory.deleteReplica(id);
  }

  clusterSecret(): Promise<string> {
    return this.#memory.clusterSecret();
  }

  subscribe(listener: (change: ProcessChange) => void): Promise<() => Promise<void>> {
    return this.#memory.subscribe(listener);
  }

  /** The last instance to close waits for the last write and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#memory.close();
    if (--this.#backing.open > 0) return;
    await this.#backing.writer.idle();
    await this.#backing.lock.release();
  }

  #persist(): Promise<void> {
    if (this.#closed) throw new PraaSError("UNAVAILABLE", "the metadata store is closed");
    return this.#backing.writer.write();
  }

  /** Writes when the change happened (a truthy result); answers the result once on disk. */
  async #persistIf<T>(result: T): Promise<T> {
    if (result) await this.#persist();
    return result;
  }
}

/**
 * Writes the whole record set atomically, one write at a time. A change arriving while a write
 * runs waits for the next one, which every such change shares (the records are read when a
 * write starts, so it holds them all).
 */
class SnapshotWriter {
  readonly #file: string;
  readonly #records: () => StoredRecords;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  constructor(file: string, records: () => StoredRecords) {
    this.#file = file;
    this.#records = records;
  }

  write(): Promise<void> {
    if (this.#queued) return this.#queued;
    if (!this.#running) return this.#start();
    const after = this.#running.catch(() => undefined);
    this.#queued = after.then(() => {
      this.#queued = undefined;
      return this.#start();
    });
    return this.#queued;
  }

  /** Resolves once no write runs or waits. */
  async idle(): Promise<void> {
    while (this.#running || this.#queued)
      await (this.#queued ?? this.#running)?.catch(() => undefined);
  }

  #start(): Promise<void> {
    const running = writeAtomically(this.#file, serialize(this.#records())).finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    return running;
  }
}

function serialize(records: StoredRecords): string {
  return JSON.stringify({ format: FORMAT, ...records });
}

/** Temp file, fsync, rename over the target, fsync the directory (so the rename is durable). */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = `${file}.tmp`;
  try {
    const handle = await open(temp, "w", 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
    const dir = await open(path.dirname(file), "r");
    await dir.sync().finally(() => dir.close());
  } catch (error) {
    throw new PraaSError(
      "STORAGE_ERROR",
      `cannot write the metadata file ${file}: ${String(error)}`,
    );
  }
}

/** The stored records; none when the file does not exist yet. A damaged file is an error, never "empty". */
async function readRecords(file: string): Promise<StoredRecords> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return emptyRecords();
    throw new PraaSError(
      "STORAGE_ERROR",
      `cannot read the metadata file ${file}: ${String(error)}`,
    );
  }
  return parseRecords(text, file);
}

function parseRecords(text: string, file: string): StoredRecords {
  let value: Partial<StoredRecords> & { format?: unknown };
  try {
    value = JSON.parse(text) as typeof value;
  } catch (error) {
    throw new PraaSError("STORAGE_ERROR", `the metadata file ${file} is damaged: ${String(error)}`);
  }
  if (value.format !== FORMAT || !Array.isArray(value.apps) || !Array.isArray(value.processes))
    throw new PraaSError("STORAGE_ERROR", `the metadata file ${file} has an unknown format`);
  return {
    apps: value.apps,
    processes: value.processes,
    secret: typeof value.secret === "string" ? value.secret : emptyRecords().secret,
  };
}

function emptyRecords(): StoredRecords {
  return new MemoryMetadataStore().records();
}
