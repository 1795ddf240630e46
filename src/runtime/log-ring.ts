/**
 * A bounded ring of log records, by count and by bytes (whichever is reached first evicts the
 * oldest). Every record gets the next sequence number, so a reader that fell behind learns
 * exactly how many it missed. Used by the process (its functions' lines, until forwarded) and
 * by the control plane (each application's recent lines).
 */
import { logRecordCost, type LogRecord } from "../protocol/index.js";

export interface RingLimits {
  maxRecords: number;
  maxBytes: number;
}

/** What a reader gets: records from its cursor on, and how many were evicted before it read them. */
export interface RingRead {
  records: LogRecord[];
  /** The cursor to read from next time. */
  next: number;
  dropped: number;
}

export class LogRing {
  #records: LogRecord[] = [];
  #head = 0; // index of the oldest live record in #records
  #first = 0; // sequence number of the oldest live record
  #bytes = 0;

  constructor(readonly limits: RingLimits) {}

  /** Sequence number the next appended record gets. */
  get end(): number {
    return this.#first + this.size;
  }

  get size(): number {
    return this.#records.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  append(record: LogRecord): void {
    this.#records.push(record);
    this.#bytes += logRecordCost(record);
    while (this.size > this.limits.maxRecords || this.#bytes > this.limits.maxBytes) this.#evict();
  }

  /** Up to `maxBytes` of records from sequence number `from` on (at least one if any). */
  read(from: number, maxBytes = Number.POSITIVE_INFINITY): RingRead {
    const start = Math.max(from, this.#first);
    const records: LogRecord[] = [];
    let bytes = 0;
    for (let seq = start; seq < this.end; seq++) {
      const record = this.#records[this.#head + seq - this.#first] as LogRecord;
      bytes += logRecordCost(record);
      if (records.length > 0 && bytes > maxBytes) break;
      records.push(record);
    }
    return { records, next: start + records.length, dropped: start - Math.min(from, start) };
  }

  /** Every live record, oldest first. */
  all(): LogRecord[] {
    return this.#records.slice(this.#head);
  }

  #evict(): void {
    const oldest = this.#records[this.#head] as LogRecord;
    this.#bytes -= logRecordCost(oldest);
    this.#head++;
    this.#first++;
    // Compact now and then, so eviction stays O(1) amortised without an ever-growing array.
    if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
  }
}
