/**
 * Metadata store: the control plane's record of applications and processes. Several control-
 * plane replicas may share one store (Redis), so every process update is a compare-and-set on
 * the record's `revision`. Contract, checked by test/storage/metadata-store.conformance.ts
 * against every implementation:
 *
 * - `putApp` creates or replaces an application record.
 * - `putAppIf(app, expectedVersion)` is a compare-and-set on the application's `version`: it
 *   stores `app` only if the stored record's version equals `expectedVersion` (`undefined`: only
 *   if there is no record) and resolves whether it did. Of several concurrent calls with the same
 *   expectation exactly one succeeds, so concurrent deploys get distinct versions.
 * - `createProcess` is atomic: exactly one of several concurrent creates of the same
 *   app/name succeeds (resolves true); the others resolve false and change nothing.
 * - `updateProcess(app, name, revision, patch)` applies `patch` only if the stored revision
 *   equals `revision`, and stores revision + 1; it resolves the new record, or `undefined`
 *   when the process is missing or the revision moved on (the caller re-reads and retries).
 * - Listing returns records sorted by name. Records come back as plain copies: mutating one
 *   never changes the store.
 * - `listProcessesReadOnly` lists the same records for callers that only read them: a store may
 *   hand out its own records, deeply frozen, instead of copies. A frozen record never changes
 *   (a change stores a new object), so a caller may keep what it derives from one with it.
 * - `subscribe` delivers a notice for every process change made through any store instance
 *   sharing the same backing service (all replicas), including the caller's own changes. A
 *   store that can miss notices (its connection to the service dropped) calls `onGap` once it
 *   listens again: whatever the caller built from notices may be stale and must be rebuilt.
 * - Replicas: `putReplica(replica, ttlMs)` records a control-plane replica as alive for `ttlMs`
 *   (a heartbeat repeats it); `getReplica` answers it until then, or until `deleteReplica`, and
 *   undefined after. `clusterSecret()` answers the same secret to every instance sharing the
 *   backing service (made by the first caller, never replaced): replicas authenticate to each
 *   other with it.
 */
import type {
  AppDefaultsInfo,
  AppEnv,
  AppPermissions,
  ConnectionInfo,
  Durability,
  ProcessLimits,
  ProcessStatus,
  ResourcesInfo,
  SerializeSetting,
  SwapReason,
} from "../protocol/index.js";

export type { ConnectionInfo, ProcessStatus } from "../protocol/index.js";
export type Resources = ResourcesInfo;

/** What one deployed version of an application runs: enough to make it current again. */
export interface AppVersionRecord {
  version: number;
  bundleKey: string;
  functions: string[];
  defaults: AppDefaultsInfo;
  env?: AppEnv | undefined;
  permissions?: AppPermissions | undefined;
  serialize?: SerializeSetting | undefined;
  deployedAt: number;
  /** Set when this version was made by a rollback: the version whose code it runs. */
  rollbackOf?: number | undefined;
}

export interface AppRecord {
  name: string;
  version: number;
  functions: string[];
  /** Blob key of the built bundle; it names the bundle's content (sha256), not its version. */
  bundleKey: string;
  defaults: AppDefaultsInfo;
  /** The environment its functions see (`praas.json` "env"); secrets are added over it. */
  env?: AppEnv | undefined;
  /**
   * Set through the API, not the code: carried from version to version (a change makes a new
   * version), given to the application's workers as environment variables, never returned.
   */
  secrets?: AppEnv | undefined;
  /** What its workers may do beyond the defaults (`praas.json` "permissions"). */
  permissions?: AppPermissions | undefined;
  /** Functions that run one invocation at a time per process (`praas.json` "serialize"). */
  serialize?: SerializeSetting | undefined;
  /**
   * Shared by the application's processes to prove to each other that a mailbox message comes
   * from one of them. Made at the first deploy and kept across redeploys; never leaves the
   * control plane except to its processes. Absent on records written before it existed.
   */
  peerSecret?: string | undefined;
  /** The latest versions, oldest first, the current one last (absent on older records). */
  history?: AppVersionRecord[] | undefined;
  createdAt: number;
  updatedAt: number;
}

export interface ProcessRecord {
  app: string;
  name: string;
  status: ProcessStatus;
  resources: Resources;
  /** Limits set at create, kept for every resume; absent on records written before they existed. */
  limits?: ProcessLimits | undefined;
  /** Set at create; absent on records written before it existed: "memory". */
  durability?: Durability | undefined;
  /** Data-plane endpoint while active. */
  connection?: ConnectionInfo | undefined;
  /** The per-process secret the process presents on the control link. */
  secret: string;
  /** Bytes of the last swapped state, when swapped. */
  stateSize?: number | undefined;
  /** Backend-specific handle (pid, container id). */
  backendId?: string | undefined;
  /** Why the process failed, when failed. */
  error?: string | undefined;
  /** The last unexpected loss (ms since the epoch, reason); kept when the process comes back. */
  lastFailure?: { at: number; reason: string } | undefined;
  /**
   * The control-plane replica holding the process's control link (absent: none yet, or a
   * record written before replicas existed). Other replicas forward commands there.
   */
  replica?: string | undefined;
  /**
   * The id of the last swap command sent to the process; it stores it in its snapshot's head,
   * so a swap whose reply was lost is known to have completed only by its own snapshot.
   */
  swapId?: string | undefined;
  /** True for processes the control plane allocated itself for FaaS-style invocations. */
  autoAllocated?: boolean | undefined;
  /** The application version the process runs (set at each start and resume). */
  version?: number | undefined;
  /** Swapped out after this long unused (ms; 0: never); absent on records written before it existed. */
  idleSwapMs?: number | undefined;
  /** While swapped: why it was swapped out. */
  swapReason?: SwapReason | undefined;
  /** After an idle swap-out: when its last use ended (ms since the epoch). */
  idleSince?: number | undefined;
  /** Alarms its functions set (`ctx.setAlarm`), one per function; see control-plane/alarms.ts. */
  alarms?: AlarmRecord[] | undefined;
  createdAt: number;
  updatedAt: number;
  revision: number;
}

/** One stored alarm: invoke `fn` of the process with `payload` at `at` (ms since the epoch). */
export interface AlarmRecord {
  fn: string;
  at: number;
  /** The invocation's input, base64. */
  payload: string;
  /** Firings so far (each claim counts one); absent before the first. */
  attempts?: number | undefined;
  /**
   * Set by the replica firing it now: `at` is then the end of its lease, after which any
   * replica may fire it again (the firing replica died). Cleared when it is put back to retry.
   */
  claim?: string | undefined;
}

export type ProcessPatch = Partial<Omit<ProcessRecord, "app" | "name" | "revision" | "createdAt">>;

export interface ProcessChange {
  app: string;
  name: string;
  /** The record after the change; undefined when it was deleted. */
  record: ProcessRecord | undefined;
}

/** A live control-plane replica, as it announces itself to its peers. */
export interface ReplicaRecord {
  id: string;
  /** host:port where peer replicas reach it to forward control-link commands. */
  address: string;
  /** When it last announced itself (ms since the epoch). */
  seenAt: number;
}

export interface MetadataStore {
  readonly kind: "memory" | "redis" | "file";
  putApp(app: AppRecord): Promise<void>;
  putAppIf(app: AppRecord, expectedVersion: number | undefined): Promise<boolean>;
  getApp(name: string): Promise<AppRecord | undefined>;
  listApps(): Promise<AppRecord[]>;
  deleteApp(name: string): Promise<boolean>;
  createProcess(record: ProcessRecord): Promise<boolean>;
  getProcess(app: string, name: string): Promise<ProcessRecord | undefined>;
  listProcesses(app: string): Promise<ProcessRecord[]>;
  /** As `listProcesses`, without a copy where the store can avoid one (see the contract above). */
  listProcessesReadOnly(app: string): Promise<readonly ProcessRecord[]>;
  updateProcess(
    app: string,
    name: string,
    revision: number,
    patch: ProcessPatch,
  ): Promise<ProcessRecord | undefined>;
  deleteProcess(app: string, name: string): Promise<boolean>;
  putReplica(replica: ReplicaRecord, ttlMs: number): Promise<void>;
  getReplica(id: string): Promise<ReplicaRecord | undefined>;
  deleteReplica(id: string): Promise<void>;
  clusterSecret(): Promise<string>;
  /** Returns an unsubscribe function. */
  subscribe(
    listener: (change: ProcessChange) => void,
    onGap?: () => void,
  ): Promise<() => Promise<void>>;
  /**
   * A cheap reachability check for health probes: resolves when the store answers within
   * `timeoutMs`, else rejects with UNAVAILABLE (never later than `timeoutMs`).
   */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
