/**
 * What the control plane does, independent of HTTP: the HTTP layer (http/) is a thin adapter
 * over this interface. Every method rejects with a PraaSError whose code maps to an HTTP status
 * through HTTP_STATUS.
 */
import type { LogFilter } from "./log-hub.js";
import type {
  LogRecord,
  AppInfo,
  AppMetricsSummary,
  ProcessStateInfo,
  ConnectionInfo,
  CreateProcessBody,
  ProcessInfo,
  ProcessListInfo,
} from "../protocol/index.js";

export interface InvokeOptions {
  /** Create the (sticky) process with the application's defaults when it does not exist. */
  create?: boolean | undefined;
}

export interface InvocationOutput {
  /** The process that ran the function. */
  process: string;
  output: Buffer;
}

export interface HealthInfo {
  /** "degraded" when the metadata store does not answer (still HTTP 200). */
  status: "ok" | "degraded";
  replica: string;
  store: "memory" | "file" | "redis";
  /** Whether the metadata store answered a PING just now (memory and file: always). */
  storeStatus: "reachable" | "unreachable";
  /** What is wrong, when degraded. */
  reason?: string;
  blobs: "disk" | "s3";
  backend: string;
}

export interface ControlPlaneService {
  /** Builds and stores the application from a gzip tarball of its directory. */
  deployApp(name: string, tarball: Buffer): Promise<AppInfo>;
  listApps(): Promise<AppInfo[]>;
  getApp(name: string): Promise<AppInfo>;
  /** Makes an earlier version (default: the previous one) current again, as a new version. */
  rollbackApp(name: string, version?: number): Promise<AppInfo>;
  /** Names of the application's secrets. */
  secretNames(app: string): Promise<string[]>;
  /** Sets (or, `value` undefined, removes) a secret: a new version of the application. */
  setSecret(app: string, key: string, value: string | undefined): Promise<AppInfo>;
  /** Refused with INVALID_STATE while processes exist, unless `force`. */
  deleteApp(name: string, force: boolean): Promise<void>;
  /** Resolves once the process is active. */
  createProcess(app: string, name: string, body: CreateProcessBody): Promise<ProcessInfo>;
  listProcesses(app: string): Promise<ProcessListInfo>;
  /**
   * `listProcesses` as the JSON the API sends (UTF-8): exactly the bytes the route's response
   * schema makes of it, built faster (see process-list-json.ts).
   */
  listProcessesJson(app: string): Promise<Buffer>;
  getProcess(app: string, name: string): Promise<ProcessInfo>;
  /**
   * The process's connection as a client can dial it now: for a process behind NAT with a fresh
   * single-use dialer ticket, the process having been told to join the same pairing.
   */
  connectProcess(app: string, name: string): Promise<ConnectionInfo>;
  /** Resolves once the state is stored, with its size. */
  swapProcess(app: string, name: string): Promise<ProcessInfo>;
  /** Resolves once the process is active again, with its new connection. */
  resumeProcess(app: string, name: string): Promise<ProcessInfo>;
  /** Moves an active process to the current version (swap out, resume); resolves once active. */
  upgradeProcess(app: string, name: string): Promise<ProcessInfo>;
  /** Stops the process if active and deletes its stored state. */
  deleteProcess(app: string, name: string): Promise<void>;
  /**
   * Sticky with `process` (resumed if swapped; with `create`, created when missing); otherwise
   * picks or allocates a process.
   */
  invoke(
    app: string,
    fn: string,
    payload: Buffer,
    process?: string,
    options?: InvokeOptions,
  ): Promise<InvocationOutput>;
  /** Never rejects, and answers within about STORE_PING_TIMEOUT_MS (control-plane.ts). */
  health(): Promise<HealthInfo>;
  /** The application's recent function logs (APP_NOT_FOUND for an unknown application). */
  logs(app: string, filter: LogFilter): Promise<LogRecord[]>;
  /** The keys of an active process's state with their value sizes (INVALID_STATE when not active). */
  processState(app: string, name: string): Promise<ProcessStateInfo>;
  /** The application's per-process, per-function counters (APP_NOT_FOUND for an unknown one). */
  metricsSummary(app: string): Promise<AppMetricsSummary>;
  /** Calls `listener` with each new line of the application; returns the unsubscribe. */
  followLogs(app: string, filter: LogFilter, listener: (record: LogRecord) => void): () => void;
}
