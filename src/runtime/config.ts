/**
 * Cloud-process configuration: options → {@link resolveProcessConfig} → a frozen, validated
 * object. Only the CLI edge (runtime/main.ts) reads argv and environment variables.
 */
import { randomBytes } from "node:crypto";
import {
  NO_PERMISSIONS,
  PraaSError,
  assertName,
  type AppEnv,
  type AppPermissions,
} from "../protocol/index.js";
import type { BlobStoreConfig } from "../storage/index.js";

export interface PeerAddress {
  host: string;
  port: number;
  token: string;
}

export interface PeerEntry {
  name: string;
  status: "active" | "swapped";
  /** Present while active. */
  address?: PeerAddress | undefined;
}

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
  /** MiB for the whole process; split evenly into the workers' heap limits. Default 512. */
  memoryMiB?: number;
  /** Data-plane listen address; default 127.0.0.1:0 (a free port). */
  host?: string;
  port?: number;
  /** Address other processes and clients should dial; default `host`. */
  advertiseHost?: string;
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
  /** The blob store holding swapped state. */
  blobs: BlobStoreConfig;
  /** Restore state from the blob store before serving. */
  restore?: boolean;
  peers?: PeerEntry[];
  control?: ControlLinkOptions | undefined;
  /** The application's peer secret: proves to other processes that we are one of them. */
  peerSecret?: string | undefined;
  /** The environment of the workers, exactly (plus TMPDIR); default empty. */
  appEnv?: AppEnv | undefined;
  /** What workers may do beyond the defaults; default nothing. */
  permissions?: Partial<AppPermissions> | undefined;
}

export interface ProcessConfig {
  readonly application: string;
  readonly name: string;
  readonly bundlePath: string;
  readonly workers: number;
  readonly memoryMiB: number;
  readonly host: string;
  readonly port: number;
  readonly advertiseHost: string;
  readonly token: string;
  readonly maxPayloadBytes: number;
  readonly invocationTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly orphanTimeoutMs: number;
  readonly blobs: Readonly<BlobStoreConfig>;
  readonly restore: boolean;
  readonly peers: readonly PeerEntry[];
  readonly control: Readonly<ControlLinkOptions> | undefined;
  /** Empty when the process has none: then no peer may connect and it cannot message peers. */
  readonly peerSecret: string;
  readonly appEnv: Readonly<AppEnv>;
  readonly permissions: Readonly<AppPermissions>;
}

export function resolveProcessConfig(options: ProcessOptions): ProcessConfig {
  assertName(options.application, "application");
  assertName(options.name, "process");
  const host = options.host ?? "127.0.0.1";
  return Object.freeze({
    application: options.application,
    name: options.name,
    bundlePath: required(options.bundlePath, "bundlePath"),
    workers: integer(options.workers ?? 1, "workers", 1, 256),
    memoryMiB: integer(options.memoryMiB ?? 512, "memoryMiB", 16, 1 << 20),
    host,
    port: integer(options.port ?? 0, "port", 0, 65535),
    advertiseHost: options.advertiseHost ?? host,
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
    blobs: Object.freeze({ ...options.blobs }),
    restore: options.restore ?? false,
    peers: Object.freeze([...(options.peers ?? [])]),
    control: options.control ? Object.freeze({ ...options.control }) : undefined,
    peerSecret: options.peerSecret ?? "",
    appEnv: Object.freeze(appEnv(options.appEnv ?? {})),
    permissions: Object.freeze({ ...NO_PERMISSIONS, ...options.permissions }),
  });
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
