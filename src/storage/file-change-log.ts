/**
 * The file metadata store's change log: one JSON line per change (a whole record set or
 * deleted), appended and synced before the change is acknowledged, so a change costs a write of
 * its own record, not of every record. Changes arriving while a write runs share the next one
 * (group commit). Past a size the log is folded into the snapshot file and emptied, between two
 * writes, so no acknowledged change is ever only in the part being dropped.
 *
 * Replaying the log over the snapshot is idempotent (each line sets or deletes a whole record),
 * so a crash between writing the snapshot and emptying the log loses nothing. A line cut short
 * by a crash is the last one and was never acknowledged: it is dropped. A write that fails
 * (a full disk) is cut off again, so the next one starts on a clean line.
 */
import { open, readFile, type FileHandle } from "node:fs/promises";
import { PraaSError } from "../protocol/index.js";
import type { AppRecord, ProcessRecord } from "./metadata-store.js";

export type LoggedChange =
  | { app: AppRecord }
  | { deleteApp: string }
  | { process: ProcessRecord }
  | { deleteProcess: { app: string; name: string } };

interface Pending {
  line: string;
  resolve(): void;
  reject(error: PraaSError): void;
}

export class ChangeLog {
  readonly #file: string;
  readonly #handle: FileHandle;
  #bytes: number;
  #pending: Pending[] = [];
  #writing: Promise<void> | undefined;
  #broken: PraaSError | undefined;

  private constructor(file: string, handle: FileHandle, bytes: number) {
    this.#file = file;
    this.#handle = handle;
    this.#bytes = bytes;
  }

  /** Opens the log (creating it), drops a torn last line, and returns the changes it holds. */
  static async open(file: string): Promise<{ log: ChangeLog; changes: LoggedChange[] }> {
    const { changes, bytes } = await readChanges(file);
    const handle = await open(file, "a+", 0o600).catch((error: unknown) => {
      throw storageError(`cannot open the metadata log ${file}`, error);
    });
    await handle.truncate(bytes);
    return { log: new ChangeLog(file, handle, bytes), changes };
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Resolves once the change is on disk. */
  append(change: LoggedChange): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      this.#pending.push({ line: `${JSON.stringify(change)}\n`, resolve, reject });
      this.#writing ??= this.#drain();
    });
  }

  /**
   * Runs `fold` (which stores every record in the snapshot) between two writes, then empties
   * the log: nothing appended meanwhile is written before the log is empty.
   */
  async compact(fold: () => Promise<void>): Promise<void> {
    await this.#idle();
    const folding = this.#fold(fold);
    this.#writing = folding.then(
      () => this.#next(),
      () => this.#next(),
    );
    await folding;
  }

  async close(): Promise<void> {
    await this.#idle();
    await this.#handle.close();
  }

  /** Resolves once no write runs (one may follow another). */
  async #idle(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #fold(fold: () => Promise<void>): Promise<void> {
    await fold();
    await this.#handle.truncate(0);
    await this.#handle.datasync();
    this.#bytes = 0;
  }

  async #drain(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    try {
      await this.#write(batch.map((p) => p.line).join(""));
      for (const p of batch) p.resolve();
    } catch (error) {
      const failure = storageError(`cannot write the metadata log ${this.#file}`, error);
      for (const p of batch) p.reject(failure);
    }
    await this.#next();
  }

  /** The next batch, if changes arrived meanwhile. */
  #next(): Promise<void> {
    this.#writing = this.#pending.length > 0 ? this.#drain() : undefined;
    return Promise.resolve();
  }

  async #write(text: string): Promise<void> {
    const bytes = Buffer.from(text);
    try {
      await this.#handle.write(bytes, 0, bytes.length, this.#bytes);
      await this.#handle.datasync();
      this.#bytes += bytes.length;
    } catch (error) {
      await this.#handle.truncate(this.#bytes).catch((cause: unknown) => {
        this.#broken = storageError(`the metadata log ${this.#file} cannot be repaired`, cause);
      });
      throw error;
    }
  }
}

/** The changes in the log, and how many bytes of it are whole lines. */
async function readChanges(file: string): Promise<{ changes: LoggedChange[]; bytes: number }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { changes: [], bytes: 0 };
    throw storageError(`cannot read the metadata log ${file}`, error);
  }
  const whole = text.slice(0, text.lastIndexOf("\n") + 1);
  const changes = whole
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => parseChange(line, file));
  return { changes, bytes: Buffer.byteLength(whole) };
}

function parseChange(line: string, file: string): LoggedChange {
  try {
    return JSON.parse(line) as LoggedChange;
  } catch (error) {
    throw storageError(`the metadata log ${file} is damaged`, error);
  }
}

function storageError(what: string, error: unknown): PraaSError {
  return new PraaSError("STORAGE_ERROR", `${what}: ${String(error)}`);
}
