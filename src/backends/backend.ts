/**
 * A backend runs cloud processes somewhere: `local` (child processes of the control plane),
 * `docker` (one container each), later `kubernetes`. Contract, checked by
 * test/backends/backend.conformance.ts against every implementation:
 *
 * - `start` resolves once the process serves (it has registered with the control plane when a
 *   control address is given), with its data-plane endpoint and a backend id; it rejects with
 *   BACKEND_ERROR (or the process's own start-up error, e.g. BUILD_FAILED, STORAGE_ERROR) and
 *   leaves nothing running.
 * - `stop` ends the process (SIGTERM, then SIGKILL after the grace period) and resolves once it
 *   is gone; stopping an unknown or finished id resolves.
 * - Every process that ends, for any reason, is reported once through `onExit`.
 * - `shutdown` stops every process this backend started or adopted, except those it is told to
 *   keep: it lets go of them, still running (processes whose state could not be saved).
 * - A process with durability `log` keeps its write-ahead log where the backend puts it (the
 *   local backend: a file under its data dir); `deleteLog` removes it (a missing log is fine).
 */
import type {
  AppEnv,
  AppPermissions,
  Durability,
  ProcessLimits,
  ProcessReach,
  SerializeSetting,
} from "../protocol/index.js";
import type { LaunchOptions } from "../runtime/launch.js";
import type { WarmPoolStats } from "./warm-pool.js";

export interface ProcessSpec {
  app: string;
  name: string;
  /** The application bundle: cached by the backend under `bundleKey`. */
  bundleKey: string;
  loadBundle(): Promise<Buffer>;
  vcpus: number;
  memoryMiB: number;
  /** Data-plane token and control-link secret of this process. */
  token: string;
  secret: string;
  /** The application's secret its processes present to each other (absent: no peer messages). */
  peerSecret?: string | undefined;
  /** The whole environment of the application's functions (manifest "env", later secrets). */
  appEnv: AppEnv;
  /** What the application's workers may do beyond the defaults. */
  permissions: AppPermissions;
  /** Functions that run one invocation at a time (praas.json "serialize"); absent: none. */
  serialize?: SerializeSetting | undefined;
  restore: boolean;
  /** `host:port` of the control link. */
  controlAddress: string;
  /** The control plane's default deadline; `limits.invocationTimeoutMs` overrides it. */
  invocationTimeoutMs?: number;
  /** The process's own limits (absent keys: the runtime's defaults). */
  limits?: ProcessLimits | undefined;
  /** Default "memory"; "log" gets a write-ahead log from the backend. */
  durability?: Durability;
  maxPayloadBytes?: number;
  /** How clients reach it (the process registers this); default "direct". */
  reach?: ProcessReach | undefined;
  /** Swapped out after this long unused (the process reports it); 0 or absent: never. */
  idleSwapMs?: number | undefined;
  /** Function errors returned to callers carry the stack trace. */
  errorStacks?: boolean;
}

export interface StartedProcess {
  backendId: string;
  host: string;
  port: number;
}

export interface ExitInfo {
  backendId: string;
  app: string;
  name: string;
  code: number | null;
  signal: string | null;
}

export interface ProcessBackend {
  readonly kind: string;
  start(spec: ProcessSpec): Promise<StartedProcess>;
  stop(backendId: string, graceMs?: number): Promise<void>;
  onExit(listener: (exit: ExitInfo) => void): void;
  /** Removes the write-ahead log of `app/name` (when the process is deleted or re-created). */
  deleteLog?(app: string, name: string): Promise<void>;
  /**
   * Where clients reach the process that registered as `app/name`, when that is not the
   * address it registered with (a container's data port published on the host); undefined:
   * where it said.
   */
  reachableAt?(app: string, name: string): Promise<{ host: string; port: number } | undefined>;
  /**
   * A process this backend did not start in this run (an earlier control plane did, and it
   * outlived it) registered here: from now on `stop`, `onExit` and `shutdown` cover it too.
   */
  adoptReconnected?(backendId: string, app: string, name: string): void;
  /** Backend ids of the processes running now. */
  running(): string[];
  /** The warm pool's counters, for a backend that keeps one (undefined: none, or it is off). */
  warmPool?(): WarmPoolStats | undefined;
  shutdown(keep?: ReadonlySet<string>): Promise<void>;
}

/** The worker subprocesses a process of `vcpus` runs. */
export function workersFor(vcpus: number): number {
  return Math.max(1, Math.round(vcpus));
}

/**
 * What every backend passes the runtime from a spec the same way: identity, resources,
 * secrets, the application's environment and limits. Each backend adds where the code, the
 * state and the log are, and the addresses.
 */
export function launchOptionsOf(spec: ProcessSpec) {
  return {
    application: spec.app,
    name: spec.name,
    workers: workersFor(spec.vcpus),
    memoryMiB: spec.memoryMiB,
    restore: spec.restore,
    control: spec.controlAddress,
    token: spec.token,
    secret: spec.secret,
    peerSecret: spec.peerSecret,
    appEnv: spec.appEnv,
    permissions: spec.permissions,
    ...(spec.serialize === undefined ? {} : { serialize: spec.serialize }),
    ...(spec.invocationTimeoutMs === undefined ? {} : { timeoutMs: spec.invocationTimeoutMs }),
    limits: spec.limits ?? {},
    ...(spec.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: spec.maxPayloadBytes }),
    ...(spec.reach === undefined || spec.reach === "direct" ? {} : { reach: spec.reach }),
    ...(spec.idleSwapMs ? { idleSwapMs: spec.idleSwapMs } : {}),
    ...(spec.errorStacks ? { errorStacks: true } : {}),
  } satisfies Partial<LaunchOptions>;
}
