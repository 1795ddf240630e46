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

export interface ConnectionInfo {
  host: string;
  port: number;
  token: string;
}

/** An application's defaults for its processes (`praas.json` "defaults"). */
export interface AppDefaultsInfo extends Partial<ResourcesInfo> {
  limits?: ProcessLimits;
}

/** `PUT /apps/:app`, `GET /apps/:app`, items of `GET /apps`. */
export interface AppInfo {
  name: string;
  version: number;
  functions: string[];
  defaults: AppDefaultsInfo;
  createdAt: string;
  updatedAt: string;
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
  /** Present while active. */
  connection?: ConnectionInfo;
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
  createdAt: string;
  updatedAt: string;
}

/** `GET /apps/:app/processes`. `active` holds every process that is not swapped or failed. */
export interface ProcessListInfo {
  active: ProcessInfo[];
  swapped: ProcessInfo[];
  failed: ProcessInfo[];
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
  ALREADY_EXISTS: 409,
  INVALID_STATE: 409,
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
