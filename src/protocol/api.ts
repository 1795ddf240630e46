/**
 * The JSON shapes of the control-plane HTTP API (v1), shared by the server, the SDK and the
 * CLI. Errors are always `{ "error": { "code", "message", "errorName"? } }` with the HTTP status
 * from {@link HTTP_STATUS}.
 */
import { PraaSError, type ErrorCode, type ErrorRecord } from "./errors.js";
import type { SwapReason } from "./idle.js";
import type { ProcessLimits } from "./limits.js";

/** Every process status, in lifecycle order (the one list: types, schemas and tests use it). */
export const PROCESS_STATUSES = [
  "allocating",
  "active",
  "swapping",
  "swapped",
  "resuming",
  "deleted",
  "failed",
] as const;

export type ProcessStatus = (typeof PROCESS_STATUSES)[number];

/**
 * What survives a crash of the process: `memory`, its state as of its last swap; `log`, every
 * acknowledged write (appended to a write-ahead log before it is acknowledged).
 */
export const DURABILITY_MODES = ["memory", "log"] as const;

export type Durability = (typeof DURABILITY_MODES)[number];

/** `value` as a durability; BAD_REQUEST naming the choices otherwise. */
export function parseDurability(value: unknown, where = "durability"): Durability {
  if (!DURABILITY_MODES.includes(value as Durability)) {
    throw new PraaSError(
      "BAD_REQUEST",
      `${where} must be one of ${DURABILITY_MODES.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value as Durability;
}

/** The last time a process was lost unexpectedly (kept after it came back). */
export interface FailureInfo {
  /** ISO time. */
  at: string;
  reason: string;
}

export interface ResourcesInfo {
  vcpus: number;
  /** MiB. */
  memory: number;
}

/**
 * How a process can be reached: `direct` (clients dial host:port), `punch` (behind NAT: TCP hole
 * punching through the rendezvous, relay when that fails) or `relay` (always through the relay).
 */
export const PROCESS_REACHES = ["direct", "punch", "relay"] as const;

export type ProcessReach = (typeof PROCESS_REACHES)[number];

export function isProcessReach(value: unknown): value is ProcessReach {
  return PROCESS_REACHES.includes(value as ProcessReach);
}

/** `value` as a reach; BAD_REQUEST naming the choices otherwise. */
export function parseProcessReach(value: unknown, where = "reach"): ProcessReach {
  if (isProcessReach(value)) return value;
  const choices = PROCESS_REACHES.join(", ");
  throw new PraaSError("BAD_REQUEST", `${where} must be one of ${choices}, got ${String(value)}`);
}

/** Where a rendezvous server listens. */
export interface RendezvousAddress {
  host: string;
  port: number;
}

export interface ConnectionInfo {
  host: string;
  port: number;
  token: string;
  /** How to reach the process; absent: direct. */
  path?: ProcessReach;
  /** For punch and relay: the rendezvous server to pair at. */
  rendezvous?: RendezvousAddress;
  /**
   * For punch and relay, only in the answer of `POST .../connect`: a single-use, short-lived
   * dialer ticket for one pairing the process was just told to join.
   */
  ticket?: string;
}

/** Open data-plane connections of a process, by the path each took. */
export type ConnectionCounts = Record<ProcessReach, number>;

/** An application's defaults for its processes (`praas.json` "defaults"). */
export interface AppDefaultsInfo extends Partial<ResourcesInfo> {
  limits?: ProcessLimits;
}

/** `PUT /apps/:app`, `GET /apps/:app`, items of `GET /apps`. */
export interface AppInfo {
  name: string;
  /** The current version: what new and upgraded processes run. */
  version: number;
  functions: string[];
  defaults: AppDefaultsInfo;
  /** The versions kept for rollback, oldest first, the current one last. */
  versions: AppVersionInfo[];
  /** Names of its secrets (never their values); absent when it has none. */
  secrets?: string[];
  createdAt: string;
  updatedAt: string;
}

export interface AppVersionInfo {
  version: number;
  functions: string[];
  deployedAt: string;
  /** Present when the version was made by a rollback: the version whose code it runs. */
  rollbackOf?: number;
}

/** `POST /apps/:app/rollback` body: the version to run again; default the one before the current. */
export interface RollbackBody {
  version?: number;
}

/** `PUT|GET /apps/:app/processes/:proc`, swap, resume. */
export interface ProcessInfo {
  app: string;
  name: string;
  status: ProcessStatus;
  resources: ResourcesInfo;
  /** The limits set for this process (its own, else its application's); absent keys: defaults. */
  limits: ProcessLimits;
  durability: Durability;
  /** The application version it runs (absent before its first start). */
  version?: number;
  /** Present while active. */
  connection?: ConnectionInfo;
  /**
   * While active, where it runs, for operators: `local:<pid>@<start ticks>` (a pooled runtime's
   * command line does not name its process) or `docker:<container id>`.
   */
  backendId?: string;
  /** `GET` of an active process: its open data-plane connections by path (when it answered). */
  connections?: ConnectionCounts;
  /** Bytes of swapped state, once swapped. */
  stateSize?: number;
  /** Why the process failed, when failed. */
  error?: string;
  /** The last unexpected loss of the process, if any; stays after it was resumed. */
  lastFailure?: FailureInfo;
  /** Swapped out after this long without use (ms); 0: never. */
  idleSwapMs?: number;
  /** While swapped: why (`"idle"`: nothing used it for `idleSwapMs`). */
  swapReason?: SwapReason;
  /** After an idle swap-out: when its last use ended (ISO time). */
  idleSince?: string;
  /** Allocated by the control plane for an invocation without a process (FaaS style). */
  auto?: boolean;
  /** The alarms its functions set (`ctx.setAlarm`), earliest first; never their payloads. */
  alarms?: AlarmInfo[];
  createdAt: string;
  updatedAt: string;
}

/** One alarm of a process. */
export interface AlarmInfo {
  function: string;
  /** When it fires next (ISO time); while it is being fired, when another try may start. */
  at: string;
  /** Firings so far, when it has been fired (and failed) before. */
  attempts?: number;
}

/** `GET /apps/:app/processes`. `active` holds every process that is not swapped or failed. */
export interface ProcessListInfo {
  active: ProcessInfo[];
  swapped: ProcessInfo[];
  failed: ProcessInfo[];
}

/** One key of a process's state, as `GET /apps/:app/processes/:proc/state` lists it. */
export interface StateKeyInfo {
  key: string;
  /** Bytes of its value. */
  size: number;
  /** When it was last written (ISO time). */
  updatedAt: string;
}

/** `GET /apps/:app/processes/:proc/state`: the keys of an active process (values stay in it). */
export interface ProcessStateInfo {
  /** Keys in first-write order, at most {@link MAX_LISTED_STATE_KEYS}. */
  keys: StateKeyInfo[];
  /** Every key the process holds, and their bytes (more than `keys` when cut). */
  totalKeys: number;
  totalBytes: number;
}

/** A state listing stops here: the page and the CLI show names, not a dump of the store. */
export const MAX_LISTED_STATE_KEYS = 1000;

/** One function's invocations in `GET /apps/:app/metrics`, cumulative (they only grow). */
export interface FunctionSummary {
  function: string;
  /** Invocations by outcome: "ok" or an error code. */
  outcomes: Record<string, number>;
  /** Every invocation counted in `outcomes`. */
  count: number;
  /** Seconds over every invocation, as the process measured them (the direct path included). */
  latencySumSeconds: number;
}

/** One process (label) of `GET /apps/:app/metrics`. */
export interface ProcessSummary {
  /** The process's name, or `other` past the first 20 processes of the application. */
  process: string;
  functions: FunctionSummary[];
  /** From its last report, while it reports (absent once it stopped: swapped, deleted). */
  inflight?: number;
  stateBytes?: number;
  stateKeys?: number;
  mailboxDepth?: number;
}

/**
 * `GET /apps/:app/metrics`: the per-function counters behind `/metrics`, as JSON for one
 * application. Counters are cumulative: a rate is the difference between two reads over the
 * time between them (`at`), a mean latency the difference of `latencySumSeconds` over that of
 * `count`. Kept by the replica that holds the process's control link.
 */
export interface AppMetricsSummary {
  app: string;
  /** When this was read (ms since the epoch, the control plane's clock). */
  at: number;
  processes: ProcessSummary[];
}

/** `PUT /apps/:app/processes/:proc` body. Missing fields take the application's defaults. */
export interface CreateProcessBody {
  vcpus?: number;
  memory?: number;
  /** Per key, over the application's default limits. */
  limits?: ProcessLimits;
  /** Default `memory`. */
  durability?: Durability;
  /** Swap out after this long unused: ms, or "10m", "30s"...; 0: never. Default: `praas up --idle-swap`. */
  idleSwap?: number | string;
}

export interface ErrorBody {
  error: ErrorRecord;
}

/** Response header naming the process that served a control-plane invocation. */
export const PROCESS_HEADER = "x-praas-process";

/** The one place where error codes meet HTTP statuses. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  INVALID_NAME: 400,
  PROTOCOL_ERROR: 400,
  UNAUTHORIZED: 401,
  APP_NOT_FOUND: 404,
  PROCESS_NOT_FOUND: 404,
  FUNCTION_NOT_FOUND: 404,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  INVALID_STATE: 409,
  REPLACED: 409,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  BUILD_FAILED: 422,
  FUNCTION_ERROR: 500,
  STORAGE_ERROR: 500,
  INTERNAL: 500,
  WORKER_CRASHED: 502,
  OUT_OF_MEMORY: 502,
  CONNECTION_CLOSED: 502,
  BACKEND_ERROR: 502,
  PEER_UNAVAILABLE: 503,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  STATE_FULL: 507,
};
