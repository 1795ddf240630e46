/**
 * Cloud-process configuration: options → {@link resolveProcessConfig} → a frozen, validated
 * object. Only the CLI edge (runtime/main.ts) reads argv and environment variables.
 */
import { randomBytes } from "node:crypto";
import {
  DURABILITY_MODES,
  NO_PERMISSIONS,
  PraaSError,
  assertName,
  parseSerializeSetting,
  type AppEnv,
  type AppPermissions,
  type ConnectionInfo,
  type Durability,
  type PeerEntry,
  type ProcessReach,
  type SerializeSetting,
  parseProcessReach,
} from "../protocol/index.js";
import type { BlobStoreConfig } from "../storage/index.js";
import type { MemoryGuardMode } from "./memory-guard.js";

const MIB = 1024 * 1024;
const MEMORY_GUARD_MODES: readonly MemoryGuardMode[] = ["auto", "watchdog", "off"];
const DURABILITIES: readonly Durability[] = DURABILITY_MODES;

export type { PeerEntry } from "../protocol/index.js";
/** Where a peer's data plane is: the same record the control plane hands out. */
export type PeerAddress = ConnectionInfo;

export interface ControlLinkOptions {
  host: string;
  port: number;
  secret: string;
}

export interface ProcessOptions {
  application: string;
  name: string;
  /** The built application bundle (one ESM file). */
  bundlePath: string;
  /** Worker subprocesses; default 1. */
  workers?: number;
  /**
   * MiB for the whole process: the process and its workers, off-heap memory included; also
   * split evenly into the workers' heap limits. Default 512.
   */
  memoryMiB?: number;
  /**
   * How `memoryMiB` is enforced: "auto" (a memory cgroup where the machine allows one, plus
   * the RSS watchdog), "watchdog" (the watchdog alone) or "off". Default "auto".
   */
  memoryGuard?: MemoryGuardMode;
  /** Bytes of state plus undelivered messages; default {@link defaultMaxStoredBytes}. */
  maxStoredBytes?: number;
  /** Invocations in flight in the process (calls between functions included); default 4096. */
  maxInflight?: number;
  /** Invocations in flight on one data-plane connection; default 1024. */
  maxInflightPerConnection?: number;
  /** Open data-plane connections; default 1024. */
  maxConnections?: number;
  /** Largest frame payload before a connection's HELLO is accepted; default 64 KiB. */
  maxHelloBytes?: number;
  /** Unsent bytes queued for one connection before the process stops reading it; default 1 MiB. */
  writeBacklogBytes?: number;
  /**
   * Payload bytes of one connection's unanswered invocations before the process stops reading
   * it (the invocation that passes it is still read); default 16 MiB.
   */
  maxInflightBytesPerConnection?: number;
  /** Data-plane listen address; default 127.0.0.1:0 (a free port). */
  host?: string;
  port?: number;
  /** Address other processes and clients should dial; default `host`. */
  advertiseHost?: string;
  /**
   * How clients and peers reach the data plane, as registered with the control plane: "direct"
   * (default), or "punch" / "relay" for a process behind NAT (paired through the rendezvous).
   */
  reach?: ProcessReach;
  /** Data-plane token clients must present; default: random. */
  token?: string;
  /** Largest accepted payload; default 64 MiB. */
  maxPayloadBytes?: number;
  /** Per-invocation deadline; default 60 000 ms. */
  invocationTimeoutMs?: number;
  /** How long a swap waits for running invocations; default 10 000 ms. */
  drainTimeoutMs?: number;
  /** After losing the control plane this long, swap out and exit; default 300 000 ms. */
  orphanTimeoutMs?: number;
  /**
   * After this long without an invocation, a message or an open client connection, report
   * itself idle to the control plane (which swaps it out); default 0: never.
   */
  idleSwapMs?: number;
  /** The blob store holding swapped state. */
  blobs: BlobStoreConfig;
  /** Restore state from the blob store before serving. */
  restore?: boolean;
  /**
   * "memory" (default): state lives in memory until a swap. "log": every acknowledged state
   * change and mailbox message is appended to the write-ahead log at `walPath` first, and a
   * start replays it over the restored snapshot.
   */
  durability?: Durability;
  /** The write-ahead log file; required with durability "log". */
  walPath?: string | undefined;
  /**
   * A log larger than this and than the state itself is folded into a snapshot while the
   * process serves; default 64 MiB.
   */
  walCompactBytes?: number;
  peers?: PeerEntry[];
  control?: ControlLinkOptions | undefined;
  /** The application's peer secret: proves to other processes that we are one of them. */
  peerSecret?: string | undefined;
  /** The environment of the workers, exactly (plus TMPDIR); default empty. */
  appEnv?: AppEnv | undefined;
  /** What workers may do beyond the defaults; default nothing. */
  permissions?: Partial<AppPermissions> | undefined;
  /** Functions whose invocations run one at a time (praas.json "serialize"); default none. */
  serialize?: SerializeSetting | undefined;
  /** Function errors returned to callers carry the function's stack trace; default false. */
  errorStacks?: boolean | undefined;
}

export interface ProcessConfig {
  readonly application: string;
  readonly name: string;
  readonly bundlePath: string;
  readonly workers: number;
  readonly memoryMiB: number;
  readonly memoryGuard: MemoryGuardMode;
  readonly maxStoredBytes: number;
  readonly maxInflight: number;
  readonly maxInflightPerConnection: number;
  readonly maxConnections: number;
  readonly maxHelloBytes: number;
  readonly writeBacklogBytes: number;
  readonly maxInflightBytesPerConnection: number;
  readonly host: string;
  readonly port: number;
  readonly advertiseHost: string;
  readonly reach: ProcessReach;
  readonly token: string;
  readonly maxPayloadBytes: number;
  readonly invocationTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly orphanTimeoutMs: number;
  readonly idleSwapMs: number;
  readonly blobs: Readonly<BlobStoreConfig>;
  readonly restore: boolean;
  readonly durability: Durability;
  /** Set exactly when durability is "log". */
  readonly walPath: string | undefined;
  readonly walCompactBytes: number;
  readonly peers: readonly PeerEntry[];
  readonly control: Readonly<ControlLinkOptions> | undefined;
  /** Empty when the process has none: then no peer may connect and it cannot message peers. */
  readonly peerSecret: string;
  readonly appEnv: Readonly<AppEnv>;
  readonly permissions: Readonly<AppPermissions>;
  readonly serialize: SerializeSetting;
  readonly errorStacks: boolean;
}

export function resolveProcessConfig(options: ProcessOptions): ProcessConfig {
  assertName(options.application, "application");
  assertName(options.name, "process");
  const host = options.host ?? "127.0.0.1";
  const memoryMiB = integer(options.memoryMiB ?? 512, "memoryMiB", 16, 1 << 20);
  return Object.freeze({
    application: options.application,
    name: options.name,
    bundlePath: required(options.bundlePath, "bundlePath"),
    workers: integer(options.workers ?? 1, "workers", 1, 256),
    memoryMiB,
    ...resolveLimits(options, memoryMiB),
    host,
    port: integer(options.port ?? 0, "port", 0, 65535),
    advertiseHost: options.advertiseHost ?? host,
    reach: parseProcessReach(options.reach ?? "direct"),
    token: options.token ?? randomBytes(24).toString("base64url"),
    maxPayloadBytes: integer(
      options.maxPayloadBytes ?? 64 * 1024 * 1024,
      "maxPayloadBytes",
      1,
      0xffffffff,
    ),
    invocationTimeoutMs: integer(
      options.invocationTimeoutMs ?? 60_000,
      "invocationTimeoutMs",
      1,
      2 ** 31 - 1,
    ),
    drainTimeoutMs: integer(options.drainTimeoutMs ?? 10_000, "drainTimeoutMs", 0, 2 ** 31 - 1),
    orphanTimeoutMs: integer(options.orphanTimeoutMs ?? 300_000, "orphanTimeoutMs", 1, 2 ** 31 - 1),
    idleSwapMs: integer(options.idleSwapMs ?? 0, "idleSwapMs", 0, 2 ** 31 - 1),
    blobs: Object.freeze({ ...options.blobs }),
    restore: options.restore ?? false,
    ...resolveDurability(options),
    walCompactBytes: integer(
      options.walCompactBytes ?? 64 * 1024 * 1024,
      "walCompactBytes",
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    peers: Object.freeze([...(options.peers ?? [])]),
    control: options.control ? Object.freeze({ ...options.control }) : undefined,
    peerSecret: options.peerSecret ?? "",
    appEnv: Object.freeze(appEnv(options.appEnv ?? {})),
    permissions: Object.freeze({ ...NO_PERMISSIONS, ...options.permissions }),
    serialize: serializeSetting(options.serialize),
    errorStacks: options.errorStacks ?? false,
  });
}

function serializeSetting(value: SerializeSetting | undefined): SerializeSetting {
  const setting = parseSerializeSetting(value, "serialize");
  return typeof setting === "boolean" ? setting : Object.freeze(setting);
}

type Limits = Pick<
  ProcessConfig,
  | "memoryGuard"
  | "maxStoredBytes"
  | "maxInflight"
  | "maxInflightPerConnection"
  | "maxConnections"
  | "maxHelloBytes"
  | "writeBacklogBytes"
  | "maxInflightBytesPerConnection"
>;

/** What a process and one worker take before they hold any state (measured: 15 + 8 MiB). */
const RUNTIME_RESERVE_MIB = 48;

/**
 * Half of what `memoryMiB` leaves beside the process's own needs, at least a quarter of it:
 * the other half holds the workers' caches and what a listing or a put allocates for a moment.
 * At 128 MiB, half of all of it left a process with full state one listing away from its
 * memory limit.
 */
export function defaultMaxStoredBytes(memoryMiB: number): number {
  const mib = Math.max(memoryMiB / 4, (memoryMiB - RUNTIME_RESERVE_MIB) / 2);
  return Math.floor(mib * MIB);
}

function resolveLimits(options: ProcessOptions, memoryMiB: number): Limits {
  const big = Number.MAX_SAFE_INTEGER;
  return {
    memoryGuard: oneOf(options.memoryGuard ?? "auto", "memoryGuard", MEMORY_GUARD_MODES),
    maxStoredBytes: integer(
      options.maxStoredBytes ?? defaultMaxStoredBytes(memoryMiB),
      "maxStoredBytes",
      0,
      big,
    ),
    maxInflight: integer(options.maxInflight ?? 4096, "maxInflight", 1, big),
    maxInflightPerConnection: integer(
      options.maxInflightPerConnection ?? 1024,
      "maxInflightPerConnection",
      1,
      big,
    ),
    maxConnections: integer(options.maxConnections ?? 1024, "maxConnections", 1, big),
    maxHelloBytes: integer(options.maxHelloBytes ?? 64 * 1024, "maxHelloBytes", 1024, 0xffffffff),
    maxInflightBytesPerConnection: integer(
      options.maxInflightBytesPerConnection ?? 16 * MIB,
      "maxInflightBytesPerConnection",
      1,
      big,
    ),
    writeBacklogBytes: integer(
      options.writeBacklogBytes ?? MIB,
      "writeBacklogBytes",
      64 * 1024,
      big,
    ),
  };
}

function resolveDurability(options: ProcessOptions): Pick<ProcessConfig, "durability" | "walPath"> {
  const durability = oneOf(options.durability ?? "memory", "durability", DURABILITIES);
  if (durability === "memory") return { durability, walPath: undefined };
  return { durability, walPath: required(options.walPath, "walPath (with durability log)") };
}

function oneOf<T extends string>(value: T, what: string, choices: readonly T[]): T {
  if (!choices.includes(value)) {
    throw new PraaSError(
      "BAD_REQUEST",
      `${what} must be one of ${choices.join(", ")}, got ${value}`,
    );
  }
  return value;
}

/** The control plane validated the names; here only the shape, which spawn would trip over. */
function appEnv(env: AppEnv): AppEnv {
  for (const [name, value] of Object.entries(env)) {
    if (typeof value !== "string" || name.includes("=") || `${name}${value}`.includes("\0"))
      throw new PraaSError("BAD_REQUEST", `app environment entry ${name} is not a plain string`);
  }
  return { ...env };
}

function integer(value: number, what: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PraaSError(
      "BAD_REQUEST",
      `${what} must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
  return value;
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new PraaSError("BAD_REQUEST", `${what} is required`);
  return value;
}
