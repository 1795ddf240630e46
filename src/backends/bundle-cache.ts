/**
 * Application bundles as local files under `<dir>`, one per bundle key. Keys name the bundle's
 * content (its sha256, see AppService), so a cached file is always the code asked for, even
 * when an app is removed and deployed again. A file is trusted only while it is what was
 * written: one left by an earlier run is reused if it still hashes to its key, and one that
 * changed since it was written (emptied, cut short, edited) is written again from the blob
 * store, so a process never starts with code that is not its application's.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";

export interface BundleSource {
  bundleKey: string;
  loadBundle(): Promise<Buffer>;
}

/** What a written file looked like: a change to either means someone else touched it. */
interface Written {
  file: string;
  size: number;
  mtimeMs: number;
}

export class BundleCache {
  readonly #dir: string;
  readonly #written = new Map<string, Promise<Written>>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** The bundle's file; concurrent starts of one key share its write. */
  async file(source: BundleSource): Promise<string> {
    const cached = this.#written.get(source.bundleKey);
    const written = await cached?.catch(() => undefined);
    if (written !== undefined && (await unchanged(written))) return written.file;
    if (this.#written.get(source.bundleKey) === cached) this.#write(source);
    return (await this.#written.get(source.bundleKey)!).file;
  }

  #write(source: BundleSource): void {
    const written = this.#fill(source);
    this.#written.set(source.bundleKey, written);
    written.catch(() => {
      if (this.#written.get(source.bundleKey) === written) this.#written.delete(source.bundleKey);
    });
  }

  async #fill(source: BundleSource): Promise<Written> {
    const file = path.join(this.#dir, source.bundleKey.replaceAll("/", "_"));
    if (!(await holdsBundle(file, source.bundleKey))) {
      // Owner-only: a process copies its bundle into its workers' sandbox; workers read no others.
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
      await writeFile(temp, await source.loadBundle());
      await rename(temp, file);
    }
    const { size, mtimeMs } = await stat(file);
    return { file, size, mtimeMs };
  }
}

async function unchanged(written: Written): Promise<boolean> {
  const now = await stat(written.file).catch(() => undefined);
  return now?.size === written.size && now.mtimeMs === written.mtimeMs;
}

/** The file exists and hashes to the sha256 its key names (a key naming none: never trusted). */
async function holdsBundle(file: string, key: string): Promise<boolean> {
  const named = /([0-9a-f]{64})\.mjs$/.exec(key)?.[1];
  const bytes = await readFile(file).catch(() => undefined);
  if (named === undefined || bytes === undefined) return false;
  return createHash("sha256").update(bytes).digest("hex") === named;
}
