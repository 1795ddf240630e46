/**
 * The control plane's function logs: each application's recent lines in a bounded ring
 * ({@link APP_LOG_LIMITS}), filled by the log batches processes send over their control links,
 * and fanned out to followers (`GET /apps/:app/logs?follow=1`). Lines reach only the replica
 * holding the process's control link.
 */
import type { LogBatch, LogRecord } from "../protocol/index.js";
import { LogRing, type RingLimits } from "../runtime/log-ring.js";

/** Per application: 10 000 records or 8 MiB, whichever is reached first. */
export const APP_LOG_LIMITS: RingLimits = { maxRecords: 10_000, maxBytes: 8 * 1024 * 1024 };

export interface LogFilter {
  process?: string | undefined;
  /** Milliseconds since the epoch: only lines written at or after it. */
  sinceMs?: number | undefined;
}

type Follower = (record: LogRecord) => void;

export class LogHub {
  readonly #rings = new Map<string, LogRing>();
  readonly #followers = new Map<string, Set<Follower>>();

  constructor(readonly limits: RingLimits = APP_LOG_LIMITS) {}

  /** A batch from `app/process`: the link says who sent it, whatever the records claim. */
  ingest(app: string, process: string, batch: LogBatch): void {
    if (batch.dropped > 0) this.#append(app, droppedNote(app, process, batch.dropped));
    for (const record of batch.records) this.#append(app, clean(app, process, record));
  }

  recent(app: string, filter: LogFilter = {}): LogRecord[] {
    return (this.#rings.get(app)?.all() ?? []).filter((record) => matches(record, filter));
  }

  /** Calls `listener` with every new line of `app` that matches; returns the unsubscribe. */
  follow(app: string, filter: LogFilter, listener: Follower): () => void {
    const set = this.#followers.get(app) ?? new Set<Follower>();
    this.#followers.set(app, set);
    const follower: Follower = (record) => {
      if (matches(record, filter)) listener(record);
    };
    set.add(follower);
    return () => {
      set.delete(follower);
      if (set.size === 0) this.#followers.delete(app);
    };
  }

  /** An application's lines go with it. */
  forget(app: string): void {
    this.#rings.delete(app);
  }

  #append(app: string, record: LogRecord): void {
    let ring = this.#rings.get(app);
    if (ring === undefined) {
      ring = new LogRing(this.limits);
      this.#rings.set(app, ring);
    }
    ring.append(record);
    for (const follower of this.#followers.get(app) ?? []) follower(record);
  }
}

function matches(record: LogRecord, filter: LogFilter): boolean {
  if (filter.process !== undefined && record.process !== filter.process) return false;
  return filter.sinceMs === undefined || record.time >= filter.sinceMs;
}

function droppedNote(app: string, process: string, dropped: number): LogRecord {
  const message = `${dropped} log lines of ${app}/${process} were dropped before they reached the control plane`;
  return { time: Date.now(), level: "warn", stream: "system", app, process, message };
}

/** Only the fields a record has, with the sender's identity, so a ring holds nothing else. */
function clean(app: string, process: string, record: LogRecord): LogRecord {
  const out: LogRecord = {
    time: Number(record.time) || Date.now(),
    level: record.level,
    stream: record.stream,
    app,
    process,
    message: String(record.message),
  };
  if (typeof record.function === "string") out.function = record.function;
  if (typeof record.invocationId === "string") out.invocationId = record.invocationId;
  return out;
}
