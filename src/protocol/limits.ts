/**
 * Per-process limits a create request or an application's `praas.json` defaults may set: the
 * one definition of their keys, bounds and the cloud-process flag each one becomes. Used by the
 * HTTP schema, the manifest, the stored records and the launch arguments.
 */
import { PraaSError } from "./errors.js";

interface LimitDefinition {
  /** The cloud process's command-line flag (src/runtime/main.ts). */
  flag: string;
  /** Largest accepted value; the smallest is 1. */
  max: number;
  description: string;
}

const MAX_TIMER_MS = 2 ** 31 - 1; // what setTimeout can wait

/**
 * A process tells its workers what state and mailbox may still take (`StorageFree`) only when
 * that moved this far since it last told them: small messages that come and go must not cost
 * every worker a wake-up each. A worker's count is then off by less than twice this (it may
 * hold an exact count from an invocation taken since), which it allows for.
 */
export const STORAGE_FREE_STEP_BYTES = 256 * 1024;

/**
 * How long a stopping process (and each of its workers) waits for its clients to close the
 * connections it said were going away; an SDK does once its calls are answered, one round trip
 * later. Below the 2 s a worker is given before it is killed.
 */
export const GOODBYE_MS = 500;

/**
 * What holding one state key or one queued message costs a process beyond its key and value
 * bytes: the map entry, the key string, the buffer object and the entry's bookkeeping, plus
 * the heap's slack around them (about 555 bytes per entry in a running process on Node 20;
 * 340 in a bare loop). `maxStoredBytes` charges it, so a function storing millions of empty
 * values meets STATE_FULL, not the process's memory limit.
 */
export const STORED_ENTRY_OVERHEAD_BYTES = 640;

/**
 * What one state entry counts against `maxStoredBytes`. A key counts its length in UTF-16 code
 * units: what its string takes in memory (one byte each, two for non-Latin text).
 */
export function storedEntryBytes(key: string, valueBytes: number): number {
  return STORED_ENTRY_OVERHEAD_BYTES + key.length + valueBytes;
}

/** What one queued message counts against `maxStoredBytes`. */
export function storedMessageBytes(key: string, source: string, valueBytes: number): number {
  return storedEntryBytes(key, valueBytes) + source.length;
}

export const PROCESS_LIMITS = {
  maxStoredBytes: {
    flag: "--max-stored",
    max: 2 ** 40,
    description: "bytes of state plus undelivered messages",
  },
  maxInflight: { flag: "--max-inflight", max: 1_000_000, description: "invocations in flight" },
  maxInflightPerConnection: {
    flag: "--max-inflight-per-connection",
    max: 1_000_000,
    description: "invocations in flight on one data-plane connection",
  },
  maxConnections: {
    flag: "--max-connections",
    max: 1_000_000,
    description: "authenticated data-plane connections",
  },
  invocationTimeoutMs: {
    flag: "--timeout",
    max: MAX_TIMER_MS,
    description: "per-invocation deadline in ms",
  },
  walCompactBytes: {
    flag: "--wal-compact-bytes",
    max: 2 ** 40,
    description: "under durability log: log bytes past which it is compacted while serving",
  },
} as const satisfies Record<string, LimitDefinition>;

export type ProcessLimitKey = keyof typeof PROCESS_LIMITS;
export type ProcessLimits = Partial<Record<ProcessLimitKey, number>>;

export const PROCESS_LIMIT_KEYS = Object.keys(PROCESS_LIMITS) as readonly ProcessLimitKey[];

function isLimitKey(key: string): key is ProcessLimitKey {
  return Object.hasOwn(PROCESS_LIMITS, key);
}

/**
 * `value` as process limits: an object of known keys with integers in [1, max]. BAD_REQUEST
 * naming the key otherwise; `where` says where the object was (e.g. `limits`).
 */
export function parseProcessLimits(value: unknown, where = "limits"): ProcessLimits {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PraaSError("BAD_REQUEST", `${where} must be an object`);
  }
  const limits: ProcessLimits = {};
  for (const [key, entry] of Object.entries(value)) {
    if (!isLimitKey(key)) {
      const allowed = PROCESS_LIMIT_KEYS.join(", ");
      throw new PraaSError("BAD_REQUEST", `unknown key "${key}" in ${where} (allowed: ${allowed})`);
    }
    if (entry !== undefined) limits[key] = checkLimit(key, entry, where);
  }
  return limits;
}

function checkLimit(key: ProcessLimitKey, value: unknown, where: string): number {
  const { max } = PROCESS_LIMITS[key];
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    throw new PraaSError(
      "BAD_REQUEST",
      `${key} in ${where} must be an integer in [1, ${max}], got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The cloud-process flags that set `limits`. */
export function processLimitArgs(limits: ProcessLimits): string[] {
  return PROCESS_LIMIT_KEYS.flatMap((key) => {
    const value = limits[key];
    return value === undefined ? [] : [PROCESS_LIMITS[key].flag, String(value)];
  });
}

/** PAYLOAD_TOO_LARGE for `what` (e.g. "payload of 70 bytes"), naming the limit it passed. */
export function overLimit(what: string, limitBytes: number): PraaSError {
  return new PraaSError("PAYLOAD_TOO_LARGE", `${what} exceeds the limit of ${limitBytes} bytes`);
}
