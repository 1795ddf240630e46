/**
 * BlobStore on a local directory: key `a/b/c` is the file `<root>/a/b/c`. Puts write a temp
 * file beside the target, fsync it and rename it over the target, so readers only ever see
 * whole blobs. Temp names contain '~', which no valid key segment can, so they never show up
 * in `list` and never collide with a key.
 *
 * A filesystem cannot hold both `a` and `a/b` as blobs; such a put fails with STORAGE_ERROR.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import {
  assertBlobKey,
  assertBlobPrefix,
  isValidBlobSegment,
  prefixDirectory,
} from "./blob-keys.js";
import { ByteCounter, bodyChunks } from "./blob-body.js";
import type { BlobBody, BlobStat, BlobStore } from "./blob-store.js";
import { guarded, guardedStream, storageError } from "./storage-error.js";

const READ_CHUNK_BYTES = 1024 * 1024;

export class DiskBlobStore implements BlobStore {
  readonly kind = "disk";
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /**
   * A store over `root`, creating the directory if needed: owner-only (0700, with any parent it
   * creates), since it holds swapped state and bundles that no worker uid may read.
   */
  static async open(root: string): Promise<DiskBlobStore> {
    const store = new DiskBlobStore(root);
    await guarded(`create blob root ${store.root}`, () =>
      mkdir(store.root, { recursive: true, mode: 0o700 }),
    );
    return store;
  }

  async put(key: string, body: BlobBody): Promise<BlobStat> {
    const file = this.fileOf(key);
    const temp = `${file}~${randomBytes(8).toString("hex")}.tmp`;
    try {
      await mkdir(path.dirname(file), { recursive: true });
      const size = await writeDurably(temp, body);
      await rename(temp, file);
      return { size };
    } catch (error) {
      await rm(temp, { force: true });
      throw storageError(`put blob ${key}`, error);
    }
  }

  async get(key: string): Promise<AsyncIterable<Buffer> | undefined> {
    const handle = await this.openFile(key);
    if (handle === undefined) return undefined;
    // The handle is opened up front so a missing key is `undefined`, not a stream error.
    const stream = handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
    return guardedStream<Buffer>(`read blob ${key}`, stream);
  }

  async getBytes(key: string): Promise<Buffer | undefined> {
    const file = this.fileOf(key);
    return absentAsUndefined(`read blob ${key}`, () => readFile(file));
  }

  async stat(key: string): Promise<BlobStat | undefined> {
    const file = this.fileOf(key);
    const info = await absentAsUndefined(`stat blob ${key}`, () => stat(file));
    return info?.isFile() ? { size: info.size } : undefined;
  }

  async delete(key: string): Promise<boolean> {
    const file = this.fileOf(key);
    const deleted = await absentAsUndefined(`delete blob ${key}`, async () => {
      await unlink(file);
      return true;
    });
    return deleted ?? false;
  }

  async list(prefix: string): Promise<string[]> {
    assertBlobPrefix(prefix);
    const start = prefixDirectory(prefix);
    const keys = await guarded(`list blobs ${prefix}`, () => this.walk(start));
    return keys.filter((key) => key.startsWith(prefix)).sort();
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  private fileOf(key: string): string {
    assertBlobKey(key);
    return path.join(this.root, key);
  }

  private async openFile(key: string): Promise<FileHandle | undefined> {
    const file = this.fileOf(key);
    const handle = await absentAsUndefined(`open blob ${key}`, () => open(file, "r"));
    if (handle === undefined) return undefined;
    const info = await guarded(`stat blob ${key}`, () => handle.stat());
    if (info.isFile()) return handle;
    await handle.close();
    return undefined;
  }

  /** Every blob key under the directory `relative` ('' for the root). */
  private async walk(relative: string): Promise<string[]> {
    const entries = await absentAsUndefined(`list directory ${relative}`, () =>
      readdir(path.join(this.root, relative), { withFileTypes: true }),
    );
    const keys: string[] = [];
    for (const entry of entries ?? []) {
      if (!isValidBlobSegment(entry.name)) continue; // temp files and strangers
      const key = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) keys.push(...(await this.walk(key)));
      else if (entry.isFile()) keys.push(key);
    }
    return keys;
  }
}

/** Writes `body` to a new file and fsyncs it (`flush`) before resolving with its size. */
async function writeDurably(file: string, body: BlobBody): Promise<number> {
  const counter = new ByteCounter();
  const stream = createWriteStream(file, { flags: "wx", flush: true });
  // pipeline() honours the write stream's backpressure and resolves once the file is closed.
  await pipeline(counter.count(bodyChunks(body)), stream);
  return counter.bytes;
}

const ABSENT_CODES = new Set(["ENOENT", "ENOTDIR", "EISDIR"]);

/** Runs a filesystem call; "no such file" (or a directory where a blob was expected) → undefined. */
async function absentAsUndefined<T>(
  action: string,
  work: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    if (ABSENT_CODES.has((error as NodeJS.ErrnoException).code ?? "")) return undefined;
    throw storageError(action, error);
  }
}
