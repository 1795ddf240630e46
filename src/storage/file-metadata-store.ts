/**
 * MetadataStore in files under a directory (`praas up`'s default: `<dataDir>/metadata`), for a
 * single control plane that must not forget its applications and processes when restarted.
 * Records live in memory (a {@link MemoryMetadataStore}, so the contract holds the same way) and
 * every change is on disk before it is acknowledged: appended to `records.log` as one line and
 * synced (see file-change-log.ts), so a change costs its own record, not all of them. The log
 * is folded into the snapshot `records.json` when it grows past the snapshot's size (and at
 * close): the whole record set as JSON to a temp file, fsynced, renamed over it, then the
 * directory fsynced, so a crash leaves the old snapshot or the new one, never a torn one.
 * Opening reads the snapshot and replays the log over it. One control plane per directory: a
 * lock file (see file-lock.ts) refuses a second one. Replica heartbeats are not kept: a single
 * control plane has no peers to tell.
 */
import { mkdir, open, readFile, rename } from "node:fs/promises";
import path from "node:path";
import { PraaSError } from "../protocol/index.js";
import { ChangeLog, type LoggedChange } from "./file-change-log.js";
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
const LOG_FILE = "records.log";
const FORMAT = 1;
/** The log is folded into the snapshot once it is larger than this and than the snapshot. */
const MIN_FOLD_BYTES = 1024 * 1024;

/** What the instances over one directory share: the records, their files and the lock. */
interface Backing {
  records: MemoryMetadataStore;
  log: ChangeLog;
  snapshot: SnapshotFile;
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
      const stored = await readRecords(file);
      const { log, changes } = await ChangeLog.open(path.join(dir, LOG_FILE));
      const records = MemoryMetadataStore.from(replay(stored.records, changes));
      const snapshot = new SnapshotFile(file, () => records.records(), stored.bytes);
      // A new directory's cluster secret must be on disk before anything relies on it.
      if (!stored.existed) await snapshot.write();
      return new FileMetadataStore({ records, log, snapshot, lock, open: 0 });
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
    await this.#persist({ app });
  }

  async putAppIf(app: AppRecord, expectedVersion: number | undefined): Promise<boolean> {
    return this.#persistIf(await this.#memory.putAppIf(app, expectedVersion), { app });
  }

  getApp(name: string): Promise<AppRecord | undefined> {
    return this.#memory.getApp(name);
  }

  listApps(): Promise<AppRecord[]> {
    return this.#memory.listApps();
  }

  async deleteApp(name: string): Promise<boolean> {
    return this.#persistIf(await this.#memory.deleteApp(name), { deleteApp: name });
  }

  async createProcess(record: ProcessRecord): Promise<boolean> {
    return this.#persistIf(await this.#memory.createProcess(record), { process: record });
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
    const updated = await this.#memory.updateProcess(app, name, revision, patch);
    return updated && (await this.#persistIf(updated, { process: updated }));
  }

  async deleteProcess(app: string, name: string): Promise<boolean> {
    const change = { deleteProcess: { app, name } };
    return this.#persistIf(await this.#memory.deleteProcess(app, name), change);
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

  /** The last instance to close folds the log into the snapshot and releases the lock. */
  /** Reads come from memory and writes report their own disk errors: nothing to reach. */
  ping(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#memory.close();
    if (--this.#backing.open > 0) return;
    const { log, snapshot, lock } = this.#backing;
    try {
      await log.compact(() => snapshot.write()).catch(() => undefined); // the log still holds it all
      await log.close();
    } finally {
      await lock.release();
    }
  }

  async #persist(change: LoggedChange): Promise<void> {
    if (this.#closed) throw new PraaSError("UNAVAILABLE", "the metadata store is closed");
    const { log, snapshot } = this.#backing;
    await log.append(change);
    if (log.bytes > Math.max(MIN_FOLD_BYTES, snapshot.bytes)) void this.#fold();
  }

  /** Folds the log into the snapshot; a failure only leaves the log longer (it holds it all). */
  async #fold(): Promise<void> {
    const { log, snapshot } = this.#backing;
    await log.compact(() => snapshot.write()).catch(() => undefined);
  }

  /** Logs `change` when it happened (a truthy result); answers the result once on disk. */
  async #persistIf<T>(result: T, change: LoggedChange): Promise<T> {
    if (result) await this.#persist(change);
    return result;
  }
}

/** The records of the snapshot with the logged changes applied, in order. */
function replay(records: StoredRecords, changes: readonly LoggedChange[]): StoredRecords {
  const apps = new Map(records.apps.map((a) => [a.name, a]));
  const processes = new Map(records.processes.map((p) => [processKey(p), p]));
  for (const change of changes) {
    if ("app" in change) apps.set(change.app.name, change.app);
    else if ("deleteApp" in change) apps.delete(change.deleteApp);
    else if ("process" in change) processes.set(processKey(change.process), change.process);
    else processes.delete(processKey(change.deleteProcess));
  }
  return { apps: [...apps.values()], processes: [...processes.values()], secret: records.secret };
}

function processKey(record: { app: string; name: string }): string {
  return `${record.app}/${record.name}`;
}

/** The snapshot file: the whole record set, written atomically; its size decides when to fold. */
class SnapshotFile {
  constructor(
    readonly file: string,
    readonly records: () => StoredRecords,
    public bytes: number,
  ) {}

  async write(): Promise<void> {
    const text = serialize(this.records());
    await writeAtomically(this.file, text);
    this.bytes = Buffer.byteLength(text);
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

interface StoredSnapshot {
  records: StoredRecords;
  existed: boolean;
  bytes: number;
}

/** The stored records; none when the file does not exist yet. A damaged file is an error, never "empty". */
async function readRecords(file: string): Promise<StoredSnapshot> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      return { records: emptyRecords(), existed: false, bytes: 0 };
    throw new PraaSError(
      "STORAGE_ERROR",
      `cannot read the metadata file ${file}: ${String(error)}`,
    );
  }
  return { records: parseRecords(text, file), existed: true, bytes: Buffer.byteLength(text) };
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
