/**
 * A write-ahead log file: what a `log`-durability process has acknowledged since its last
 * snapshot (format: wal-records.ts). `append(ops)` resolves once the ops are on disk (write +
 * fdatasync). Appends that arrive while a write+sync is in flight (or in the same turn of the
 * event loop as the first) wait and go together in the next one (group commit: one sync for
 * many appends). The file is opened O_DSYNC, so a batch is one `pwritev` that returns once its
 * records are on disk (what a write + fdatasync give): one trip to the threadpool per batch,
 * not two, and no copy of the records into one buffer.
 *
 * The caller applies a change in memory first and appends it at once, in the same synchronous
 * step, so memory holds exactly the records issued so far. When a write or sync fails, every
 * record not on disk yet fails with STORAGE_ERROR, and their undo callbacks run first, newest
 * first, so memory goes back to what the log holds; the partial tail is cut off.
 *
 * `open` cuts a torn tail away, so later appends follow the last good record, and keeps the
 * bytes it cuts in a file beside the log. A log corrupt in the middle (whole records follow the
 * damaged one) is not opened at all when its records are needed: it fails with STORAGE_ERROR
 * and the file stays as it is, for a repair. `compact` drops
 * the records a stored snapshot holds while the process keeps serving. `open` first claims the
 * log for this process (wal-owner.ts), so two instances never append to one log; `close`
 * releases it.
 */
import { constants } from "node:fs";
import { open, mkdir, readdir, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { PraaSError } from "../protocol/index.js";
import { claimLog, type LogClaim } from "./wal-owner.js";
import {
  HEAD_BYTES,
  decodeLog,
  encodeHead,
  encodeRecord,
  holdsNewer,
  type HeldPosition,
  type ReplayResult,
  type WalOp,
} from "./wal-records.js";

export {
  decodeLog,
  encodeHead,
  encodeRecord,
  holdsNewer,
  type HeldPosition,
  type ReplayResult,
  type WalOp,
};

/** What `open` read, and where it kept the bytes it cut away (if it cut any). */
export interface OpenedReplay extends ReplayResult {
  keptAt?: string;
}

interface Pending {
  record: Buffer;
  /** Takes the change back out of memory when it cannot be logged. */
  undo: (() => void) | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

/** Someone waiting until the log is on disk up to `offset`. */
interface Marker {
  offset: number;
  resolve(offset: number): void;
  reject(error: unknown): void;
}

/** How long `open` waits for an earlier instance holding the log to exit. */
const OWNER_WAIT_MS = 10_000;

export class WriteAheadLog {
  readonly path: string;
  readonly #claim: LogClaim;
  #file: FileHandle;
  /** Bytes on disk (synced). */
  #size: number;
  /** Bytes of records appended but not on disk yet. */
  #pendingBytes = 0;
  #epoch: number | undefined;
  #queue: Pending[] = [];
  #inFlight: Pending[] = [];
  #markers: Marker[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;
  /**
   * Set when a failed write's partial bytes could not be cut off: an append after them would
   * make them look like damage in the middle of the log (or replay a refused record), so
   * appends fail until a reset or a compaction leaves them behind.
   */
  #damaged: PraaSError | undefined;
  /** Synced batch writes made: fewer than appends when group commit batched them. */
  syncs = 0;
  /** Records appended. */
  appends = 0;
  /** Times the log was compacted into a snapshot while serving. */
  compactions = 0;

  private constructor(file: string, claim: LogClaim, handle: FileHandle, replay: ReplayResult) {
    this.path = file;
    this.#claim = claim;
    this.#file = handle;
    this.#size = replay.validBytes;
    this.#epoch = replay.epoch;
  }

  /**
   * Opens (creating it and its directory, owner-only) the log at `file`, reads what it holds
   * and cuts a torn tail away (kept in `<file>.torn-<ms>`, named by `keptAt`). The ops are for
   * the caller to apply, in order (without those a snapshot `held` already). A log without a
   * head takes appends only after `reset(epoch)` gave it one. Fails with STORAGE_ERROR, the
   * file untouched, when it is corrupt in the middle and `held` does not hold it all.
   */
  static async open(
    file: string,
    held?: HeldPosition,
    ownerWaitMs = OWNER_WAIT_MS,
  ): Promise<{ wal: WriteAheadLog; replay: OpenedReplay }> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const claim = await claimLog(file, ownerWaitMs);
    let handle: FileHandle | undefined;
    try {
      handle = await open(file, LOG_FLAGS, 0o600);
      const replay = await cutDamage(file, handle, held);
      return { wal: new WriteAheadLog(file, claim, handle, replay), replay };
    } catch (error) {
      await handle?.close();
      await claim.release();
      throw error;
    }
  }

  /** Bytes of the log on disk. */
  get size(): number {
    return this.#size;
  }

  /** Where the records appended so far end, on disk or not. */
  get issuedEnd(): number {
    return this.#size + this.#pendingBytes;
  }

  get epoch(): number | undefined {
    return this.#epoch;
  }

  /**
   * Resolves once `ops` are on disk; they are one record, so replay sees all or none of them.
   * When they cannot be written, `undo` runs (before the rejection) to take them back out of
   * memory.
   */
  append(ops: readonly WalOp[], undo?: () => void): Promise<void> {
    if (this.#closed) return Promise.reject(new PraaSError("UNAVAILABLE", "the log is closed"));
    if (this.#epoch === undefined)
      return Promise.reject(new PraaSError("INTERNAL", "the log has no epoch yet"));
    if (this.#damaged) return Promise.reject(this.#damaged);
    const record = encodeRecord(ops);
    this.#pendingBytes += record.length;
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, undo, resolve, reject });
      this.#flushing ??= this.#flushAll();
    });
  }

  /**
   * Resolves with `offset` once the log is on disk up to there (a value of `issuedEnd`);
   * rejects when a record before it failed (and was undone).
   */
  durableUpTo(offset: number): Promise<number> {
    if (offset <= this.#size) return Promise.resolve(offset);
    return new Promise((resolve, reject) => this.#markers.push({ offset, resolve, reject }));
  }

  /**
   * Empties the log and starts `epoch` (its contents are in a stored snapshot now, which names
   * the epoch it holds); waits for appends in flight.
   */
  async reset(epoch: number): Promise<void> {
    await this.#idle();
    await this.#file.truncate(0);
    this.#size = 0;
    this.#damaged = undefined;
    await this.#writeAt(encodeHead(epoch), 0);
    await this.#file.datasync();
    this.#size = HEAD_BYTES;
    this.#epoch = epoch;
  }

  /**
   * Replaces the log by one of `epoch` holding only the records from `from` on (a stored
   * snapshot holds everything before): a new file, synced, then renamed over this one, so a
   * crash leaves either whole. Appends wait meanwhile and follow in the new file.
   */
  async compact(from: number, epoch: number): Promise<void> {
    await this.#idle();
    const done = this.#rewrite(from, epoch);
    this.#flushing = done.then(
      () => this.#afterCompaction(),
      () => this.#afterCompaction(),
    );
    await done;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#idle();
    await this.#file.close();
    await this.#claim.release();
  }

  async #rewrite(from: number, epoch: number): Promise<void> {
    if (from < HEAD_BYTES || from > this.#size)
      throw new PraaSError("INTERNAL", `cannot compact the log from ${from} of ${this.#size}`);
    const tail = Buffer.alloc(this.#size - from);
    await this.#file.read(tail, 0, tail.length, from);
    const temp = `${this.path}.compact`;
    const next = await open(temp, LOG_FLAGS | constants.O_TRUNC, 0o600);
    try {
      await writeAll(next, Buffer.concat([encodeHead(epoch), tail]), 0);
      await next.datasync();
    } catch (error) {
      await next.close();
      await rm(temp, { force: true });
      throw error;
    }
    await rename(temp, this.path);
    // From the rename on, appends must go to the new file, whatever fails next.
    const old = this.#file;
    this.#file = next;
    this.#size = HEAD_BYTES + tail.length;
    this.#epoch = epoch;
    this.#damaged = undefined;
    this.compactions++;
    await old.close().catch(() => undefined);
    await syncDirectory(path.dirname(this.path));
  }

  /** Lets the appends that queued during a compaction go. */
  #afterCompaction(): Promise<void> | undefined {
    this.#flushing = this.#queue.length > 0 ? this.#flushAll() : undefined;
    return this.#flushing;
  }

  async #idle(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  async #flushAll(): Promise<void> {
    // The first sync waits for the end of this turn of the event loop: the appends of every
    // frame one socket read brought (e.g. 64 writers' next puts) share it.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#queue.length > 0) {
      this.#inFlight = this.#queue;
      this.#queue = [];
      await this.#commit(this.#inFlight);
    }
    this.#flushing = undefined;
  }

  /** Cuts a failed write's partial bytes off the end of the log, or marks the log damaged. */
  async #cutFailedWrite(): Promise<void> {
    try {
      await this.#file.truncate(this.#size);
    } catch (error) {
      this.#damaged = new PraaSError(
        "STORAGE_ERROR",
        `write-ahead log: the rest of a failed write could not be cut off (${String(error)}); ` +
          "durable writes fail until the process is swapped out or its log compacted",
      );
    }
  }

  /** One synchronous write for the whole batch; on failure the partial tail is cut off. */
  async #commit(batch: Pending[]): Promise<void> {
    const records = batch.map((p) => p.record);
    const bytes = records.reduce((sum, record) => sum + record.length, 0);
    try {
      await writeAllv(this.#file, records, bytes, this.#size);
    } catch (error) {
      await this.#cutFailedWrite();
      this.#failPending(new PraaSError("STORAGE_ERROR", `write-ahead log: ${String(error)}`));
      return;
    }
    this.syncs++;
    this.appends += batch.length;
    this.#size += bytes;
    this.#pendingBytes -= bytes;
    this.#inFlight = [];
    for (const pending of batch) pending.resolve();
    this.#settleMarkers();
  }

  /**
   * A failed write fails every record not on disk: the later ones were applied on top of the
   * failed ones (an increment of a failed increment), so they are undone too, newest first.
   */
  #failPending(failure: PraaSError): void {
    const failed = [...this.#inFlight, ...this.#queue];
    this.#inFlight = [];
    this.#queue = [];
    this.#pendingBytes = 0;
    for (const pending of [...failed].reverse()) pending.undo?.();
    for (const pending of failed) pending.reject(failure);
    for (const marker of this.#markers.splice(0)) marker.reject(failure);
  }

  #settleMarkers(): void {
    const reached = this.#markers.filter((m) => m.offset <= this.#size);
    this.#markers = this.#markers.filter((m) => m.offset > this.#size);
    for (const marker of reached) marker.resolve(marker.offset);
  }

  #writeAt(bytes: Buffer, position: number): Promise<void> {
    return writeAll(this.#file, bytes, position);
  }
}

/**
 * Reads the log and cuts what follows its last valid record, after copying it aside. Corruption
 * in the middle is refused instead, unless the snapshot holds the whole log (it is emptied
 * next): replaying only the records before it would start the process without acknowledged
 * writes that are still on disk, and cutting it would destroy them.
 */
async function cutDamage(
  file: string,
  handle: FileHandle,
  held: HeldPosition | undefined,
): Promise<OpenedReplay> {
  const bytes = await handle.readFile();
  const replay = decodeLog(bytes, held);
  const { corruptAt, epoch, droppedBytes, validBytes } = replay;
  // Without a whole head the epoch is unknown, so whether the records are needed is too.
  if (corruptAt !== undefined && (epoch === undefined || holdsNewer(epoch, held)))
    throw corruptLog(file, corruptAt);
  if (droppedBytes === 0) return replay;
  const keptAt = await keepAside(file, bytes.subarray(validBytes));
  await handle.truncate(validBytes);
  await handle.datasync();
  return { ...replay, keptAt };
}

function corruptLog(file: string, at: number): PraaSError {
  return new PraaSError(
    "STORAGE_ERROR",
    `write-ahead log ${file} is corrupt at byte ${at} with intact records after it; ` +
      "not replayed (kept as is)",
  );
}

/** The tails `open` cut from the log at `file` and kept beside it (for a delete to remove). */
export async function keptTails(file: string): Promise<string[]> {
  const prefix = `${path.basename(file)}.torn-`;
  const names = await readdir(path.dirname(file)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  // Exactly prefix + digits: a process name may hold dots, so "p.wal.torn-1.wal" is another log.
  const kept = names.filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)));
  return kept.map((name) => path.join(path.dirname(file), name));
}

/**
 * Writes `bytes` to a new file beside the log (`<file>.torn-<ms>`), synced with its directory
 * entry before the log is cut: a tail taken for torn may hold what a repair needs.
 */
async function keepAside(file: string, bytes: Buffer): Promise<string> {
  for (let stamp = Date.now(); ; stamp++) {
    const aside = `${file}.torn-${stamp}`;
    const handle = await open(aside, "wx", 0o600).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "EEXIST") return undefined; // one kept in the same millisecond
      throw error;
    });
    if (handle === undefined) continue;
    try {
      await writeAll(handle, bytes, 0);
      await handle.datasync();
    } catch (error) {
      await rm(aside, { force: true });
      throw error;
    } finally {
      await handle.close();
    }
    await syncDirectory(path.dirname(file));
    return aside;
  }
}

/**
 * Read-write, appending, and O_DSYNC: a write returns once its bytes (and the file size that
 * reaches them) are on disk, as after fdatasync.
 */
const LOG_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC;

/** The records in one system call when the kernel takes them whole (it nearly always does). */
async function writeAllv(
  file: FileHandle,
  records: Buffer[],
  total: number,
  position: number,
): Promise<void> {
  const { bytesWritten } = await file.writev(records, position);
  if (bytesWritten < total) {
    const rest = Buffer.concat(records).subarray(bytesWritten);
    await writeAll(file, rest, position + bytesWritten);
  }
}

async function writeAll(file: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** Makes a rename durable: the directory entry is on disk too. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
