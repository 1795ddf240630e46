/**
 * Sends the process's function logs and metrics to the control plane in batches over the
 * control link. Never blocks a call: records wait in the ring; one batch is in flight at a
 * time; what the ring evicted before it could be sent is reported as a dropped count (the
 * control plane turns it into one "N lines dropped" record). Without a link, records wait
 * (and the oldest go) until it is back.
 */
import type { LogBatch, ProcessMetricsReport } from "../protocol/index.js";
import type { FunctionLogs } from "./function-logs.js";

/** A line waits at most this long before its batch leaves. */
const FLUSH_MS = 100;
/** Metrics alone (no new lines) are reported at most this often. */
const METRICS_MS = 1_000;
/** Metrics are reported at least this often, so the control plane knows they are fresh. */
const ALIVE_MS = 5_000;
/** One batch stays well under the control link's 1 MiB frame cap. */
const BATCH_BYTES = 128 * 1024;

export interface ForwarderOptions {
  logs: FunctionLogs;
  metrics: () => { version: number; report: ProcessMetricsReport };
  /** Sends a batch; undefined when there is no link now. */
  send: (batch: LogBatch) => Promise<void> | undefined;
}

export class LogForwarder {
  #next = 0;
  #sentVersion = -1;
  #sentAt = 0;
  /** Records of batches the control plane refused: reported as dropped with the next one. */
  #refused = 0;
  #timer: NodeJS.Timeout | undefined;
  #inflight = false;
  #closed = false;
  readonly #heartbeat: NodeJS.Timeout;

  constructor(readonly options: ForwarderOptions) {
    options.logs.onAppend(() => this.#schedule());
    this.#heartbeat = setInterval(() => this.#schedule(), METRICS_MS);
    this.#heartbeat.unref();
  }

  /** Sends what is pending now (e.g. before a swap-out ends the process); best effort. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (!this.#inflight && this.#pending()) {
      if (!(await this.#sendOne())) return;
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#heartbeat);
  }

  #pending(): boolean {
    if (this.#next < this.options.logs.ring.end) return true;
    if (Date.now() - this.#sentAt >= ALIVE_MS) return true;
    return this.options.metrics().version !== this.#sentVersion;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#inflight || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#pending()) void this.#sendOne().then(() => this.#schedule());
    }, FLUSH_MS);
    this.#timer.unref();
  }

  /** Resolves whether the batch got through (it is sent again otherwise). */
  async #sendOne(): Promise<boolean> {
    const read = this.options.logs.ring.read(this.#next, BATCH_BYTES);
    const { version, report } = this.options.metrics();
    const dropped = read.dropped + this.#refused;
    const sent = this.options.send({ records: read.records, dropped, metrics: report });
    if (sent === undefined) return false;
    this.#inflight = true;
    try {
      await sent;
      this.#next = read.next;
      this.#refused = 0;
      this.#sentVersion = version;
      this.#sentAt = Date.now();
      return true;
    } catch {
      // Refused (e.g. too large once encoded) or the link went: never retry a batch forever.
      this.#next = read.next;
      this.#refused = dropped + read.records.length;
      return false;
    } finally {
      this.#inflight = false;
    }
  }
}
