/**
 * Function logs and per-function metrics as they travel: worker → process (a `Log` frame per
 * line), process → control plane (a `logs` request on the control link carrying a
 * {@link LogBatch}), control plane → clients (`GET /apps/:app/logs`, one {@link LogRecord} per
 * line or per Server-Sent Event).
 */

import { PraaSError } from "./errors.js";

/** Where a line came from: the function's stdout or stderr, or the platform (drops, notes). */
export const LOG_STREAMS = ["stdout", "stderr", "system"] as const;
export type LogStream = (typeof LOG_STREAMS)[number];

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export interface LogRecord {
  /** Milliseconds since the epoch, when the line was written. */
  time: number;
  level: LogLevelName;
  stream: LogStream;
  app: string;
  process: string;
  /** Absent for a write outside any invocation (e.g. top-level code of the bundle). */
  function?: string;
  invocationId?: string;
  message: string;
}

/** Per-function counters a process keeps since it started (cumulative). */
export interface FunctionMetrics {
  function: string;
  /** Invocations by outcome: "ok" or an error code. */
  outcomes: Record<string, number>;
  /** Cumulative counts per bucket of {@link LATENCY_BUCKETS_SECONDS} (the last is +Inf). */
  buckets: number[];
  /** Seconds, over every invocation. */
  sum: number;
}

/** What a process reports about itself with each log batch. */
export interface ProcessMetricsReport {
  functions: FunctionMetrics[];
  inflight: number;
  stateBytes: number;
  stateKeys: number;
  mailboxDepth: number;
  /** Worker replacements by cause: "crash", "oom", "timeout" (blocked), "start". */
  workerRestarts: Record<string, number>;
}

/** Process → control plane: records not sent yet, and how many were lost before they could be. */
export interface LogBatch {
  records: LogRecord[];
  dropped: number;
  metrics?: ProcessMetricsReport;
}

/** The control link request that carries a {@link LogBatch} as its JSON payload. */
export const LOGS_REQUEST = "logs";

/** One latency histogram layout for the process and the control plane (seconds). */
export const LATENCY_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

/** A message longer than this (UTF-16 units) is cut, so one huge line cannot fill a ring. */
export const MAX_LOG_MESSAGE_CHARS = 16 * 1024;

export function truncateLogMessage(message: string): string {
  if (message.length <= MAX_LOG_MESSAGE_CHARS) return message;
  const cut = message.length - MAX_LOG_MESSAGE_CHARS;
  return `${message.slice(0, MAX_LOG_MESSAGE_CHARS)}… [${cut} more characters]`;
}

/** What one record counts against a byte-bounded ring: its text plus a fixed overhead. */
export function logRecordCost(record: LogRecord): number {
  return 64 + record.message.length + (record.function?.length ?? 0) + record.process.length;
}

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * `since` as milliseconds since the epoch: a duration back from `now` ("30s", "5m", "2h",
 * "1d", "250ms") or an ISO time. BAD_REQUEST otherwise.
 */
export function parseSince(value: string, now = Date.now()): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (match) return now - Number(match[1]) * (DURATION_UNITS_MS[match[2] ?? "s"] ?? 1000);
  const time = Date.parse(value);
  if (/^\d{4}-/.test(value) && Number.isFinite(time)) return time;
  throw new PraaSError(
    "BAD_REQUEST",
    `since must be a duration such as 30s, 5m, 2h or an ISO time, got ${JSON.stringify(value)}`,
  );
}
