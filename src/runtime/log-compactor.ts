/**
 * Keeps the write-ahead log of a process that is never swapped from growing without bound:
 * once the log is larger than a threshold and than the state it describes, the state is
 * snapshotted while the process serves and the log keeps only what came after.
 *
 * The snapshot is copied in one synchronous step, right where memory holds exactly the records
 * issued to the log so far (every change is applied and appended in one step), so it holds
 * the log up to `issuedEnd`. It is stored only once the log is on disk up to there (if those
 * records fail they are undone in memory, and the snapshot is dropped), naming that position,
 * and only then is the log rewritten without those records. A crash in between restores the
 * snapshot and replays the log from the position it names.
 */
import { PraaSError } from "../protocol/index.js";
import type { LogPosition, StateEntry } from "./snapshot.js";
import type { Message } from "./mailbox.js";
import type { WriteAheadLog } from "./wal.js";

export interface LogCompactorOptions {
  /** Never compact a log smaller than this. */
  minBytes: number;
  /** Bytes of state and messages held: a log is compacted only once it is larger. */
  liveBytes(): number;
  /** Whether a compaction may start now (the process is active). */
  allowed(): boolean;
  /** The state and messages, copied now (values are never mutated in place). */
  capture(): { state: StateEntry[]; messages: Message[] };
  /** Stores the snapshot (replacing the stored one). */
  store(state: StateEntry[], messages: Message[], log: LogPosition): Promise<void>;
  warn(message: string, fields: object): void;
}

export class LogCompactor {
  readonly #options: LogCompactorOptions;
  #running: Promise<void> | undefined;
  /** A newer instance of the process stores the snapshots now (REPLACED): never try again. */
  #replaced = false;

  constructor(options: LogCompactorOptions) {
    this.#options = options;
  }

  /** Starts a compaction of `wal` when it has grown past the thresholds and none runs. */
  check(wal: WriteAheadLog): void {
    if (this.#running || this.#replaced || !this.#due(wal)) return;
    this.#running = this.#compact(wal)
      .catch((error: unknown) => {
        if (error instanceof PraaSError && error.code === "REPLACED") this.#replaced = true;
        this.#options.warn("log compaction failed", { err: String(error) });
      })
      .finally(() => (this.#running = undefined));
  }

  /** Resolves once no compaction runs (a swap must not store its snapshot beside one). */
  async idle(): Promise<void> {
    await this.#running;
  }

  #due(wal: WriteAheadLog): boolean {
    const options = this.#options;
    return wal.size > options.minBytes && wal.size > options.liveBytes() && options.allowed();
  }

  async #compact(wal: WriteAheadLog): Promise<void> {
    const epoch = wal.epoch;
    if (epoch === undefined) return;
    const { state, messages } = this.#options.capture();
    const offset = await wal.durableUpTo(wal.issuedEnd);
    if (!this.#options.allowed()) return;
    await this.#options.store(state, messages, { epoch, offset });
    await wal.compact(offset, epoch + 1);
  }
}
