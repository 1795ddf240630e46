/**
 * Control-plane configuration: options → {@link resolveControlPlaneConfig} → a frozen, validated
 * object. Only the CLI (`praas up`) reads flags and environment variables.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import {
  MIN_RENDEZVOUS_SECRET_LENGTH,
  PraaSError,
  assertName,
  parseDuration,
  parseProcessReach,
  type ProcessReach,
} from "../protocol/index.js";
import type { BlobStoreConfig, MetadataStoreConfig } from "../storage/index.js";
import type { LogFormat, LogLevel } from "../logging/index.js";

/** NAT traversal: a rendezvous server hosted here, or an external one (`praas rendezvous`). */
export interface RendezvousOptions {
  /** Signs the pairing tickets; the rendezvous server holds the same one (16+ characters). */
  secret: string;
  /** Host a rendezvous server in the control-plane process on this port (0: any free port). */
  port?: number | undefined;
  /** The hosted server's listen address; default 0.0.0.0. */
  host?: string | undefined;
  /**
   * HOST:PORT clients and processes dial: the hosted server's public address, or an external
   * server's. Default for a hosted one: its listen address (`advertiseHost` when that is 0.0.0.0).
   */
  address?: string | undefined;
  /** How long an issued pairing ticket is valid; default 30 s. */
  ticketTtlMs?: number | undefined;
}

export type RendezvousSettings = Readonly<{
  secret: string;
  listen: { host: string; port: number } | undefined;
  address: string | undefined;
  ticketTtlMs: number;
}>;

export interface ControlPlaneOptions {
  /** HTTP listen address; default 127.0.0.1:8080. */
  host?: string;
  port?: number;
  https?: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** When set, every route but /healthz needs `Authorization: Bearer <apiToken>`. */
  apiToken?: string | undefined;
  /** Bundles cache and (by default) blobs; default ./.praas. */
  dataDir?: string;
  store?: MetadataStoreConfig;
  /** Default: disk under `<dataDir>/blobs`. */
  blobs?: BlobStoreConfig;
  /** Control-link listen address (processes dial it); default: `advertiseHost`. */
  controlHost?: string;
  /**
   * Control-link port; default: the HTTP port + 1, so processes that outlive a restart find the
   * control plane again (0, or an HTTP port of 0, means any free port).
   */
  controlPort?: number;
  /**
   * Address processes listen on and that they, their peers and clients use to reach them, and
   * that processes dial for the control link; default 127.0.0.1.
   */
  advertiseHost?: string;
  /**
   * HOST:PORT processes dial for their control link, when that is not this replica's own
   * listener: with replicas behind a proxy, the proxy's TCP frontend for control links, so a
   * process whose replica dies re-dials a live one. Default: `advertiseHost`:`controlPort`.
   */
  advertiseControl?: string | undefined;
  /**
   * HOST:PORT where peer replicas reach this replica's control-link listener to forward
   * commands for processes linked here. Default: `advertiseHost`:`controlPort`.
   */
  replicaAddress?: string | undefined;
  /** Largest app tarball or invocation payload, bytes; default 64 MiB. */
  bodyLimitBytes?: number;
  maxVcpus?: number;
  maxMemoryMiB?: number;
  defaultVcpus?: number;
  defaultMemoryMiB?: number;
  /**
   * Local backend: runtimes kept started, workers booted, for processes of `defaultVcpus` and
   * `warmPoolMemoryMiB`, so their create or resume only loads the bundle; 0 is off. Default 2.
   */
  warmPool?: number;
  /** The memory class of the warm pool's runtimes; default `defaultMemoryMiB`. */
  warmPoolMemoryMiB?: number;
  /** Processes the control plane may allocate per app for FaaS-style invocations; default 4. */
  maxAutoProcesses?: number;
  /**
   * Processes created without `idleSwap` (and auto-allocated ones) are swapped out after this
   * long without use (ms); default 0: never. `praas up --idle-swap` sets it (default 10m there).
   */
  idleSwapMs?: number;
  /** Invocations in flight per process before another is allocated; default 16. */
  maxInflightPerProcess?: number;
  invocationTimeoutMs?: number;
  /** How long to wait for a process to start and register; default 60 s. */
  startTimeoutMs?: number;
  /** After start, how long processes recorded as active have to reconnect; default 30 s. */
  reconnectGraceMs?: number;
  /** The first retry delay of a failed alarm (doubling at each further failure); default 1 s. */
  alarmRetryMs?: number;
  /**
   * This replica's name among the replicas sharing a store (a valid name); default: random.
   * A replica restarted with the same id takes its place again.
   */
  replicaId?: string;
  logLevel?: LogLevel;
  /** "pretty": one readable line per entry (for a terminal); default "json" lines. */
  logFormat?: LogFormat;
  processLogLevel?: string;
  /**
   * How the processes this control plane starts are reached: "direct" (default) at host:port,
   * or, behind NAT, "punch" (hole punching, relay fallback) or "relay"; those need `rendezvous`.
   */
  processReach?: ProcessReach;
  rendezvous?: RendezvousOptions | undefined;
  /**
   * Local backend: start processes in these network namespaces (root only; each new process in
   * the one running the fewest), e.g. private networks behind NAT. Default: none (ours).
   */
  processNetns?: readonly string[];
  /**
   * Function errors returned to callers carry the function's stack trace (callers here hold
   * the API token or a process's data-plane token); default true. `praas up` turns it off for
   * the docker backend unless `--error-stacks`.
   */
  errorStacks?: boolean;
}

type Optional = "https" | "apiToken" | "advertiseControl" | "replicaAddress";

export type ControlPlaneConfig = Readonly<
  Required<Omit<ControlPlaneOptions, Optional | "rendezvous">> &
    Pick<ControlPlaneOptions, Optional> & { rendezvous: RendezvousSettings | undefined }
>;

export function resolveControlPlaneConfig(options: ControlPlaneOptions = {}): ControlPlaneConfig {
  const dataDir = path.resolve(options.dataDir ?? ".praas");
  const maxVcpus = positive(options.maxVcpus ?? 16, "maxVcpus");
  const maxMemoryMiB = positive(options.maxMemoryMiB ?? 16_384, "maxMemoryMiB");
  const httpPort = port(options.port ?? 8080, "port");
  const advertiseHost = options.advertiseHost ?? "127.0.0.1";
  const defaultMemoryMiB = within(
    options.defaultMemoryMiB ?? 512,
    "defaultMemoryMiB",
    maxMemoryMiB,
  );
  return Object.freeze({
    host: options.host ?? "127.0.0.1",
    port: httpPort,
    https: options.https,
    apiToken: options.apiToken || undefined,
    dataDir,
    store: options.store ?? { kind: "memory" as const },
    blobs: options.blobs ?? { kind: "disk" as const, root: path.join(dataDir, "blobs") },
    controlHost: options.controlHost ?? advertiseHost,
    controlPort: port(options.controlPort ?? defaultControlPort(httpPort), "controlPort"),
    advertiseHost,
    advertiseControl: address(options.advertiseControl, "advertiseControl"),
    replicaAddress: address(options.replicaAddress, "replicaAddress"),
    bodyLimitBytes: positive(options.bodyLimitBytes ?? 64 * 1024 * 1024, "bodyLimitBytes"),
    maxVcpus,
    maxMemoryMiB,
    defaultVcpus: within(options.defaultVcpus ?? 1, "defaultVcpus", maxVcpus),
    defaultMemoryMiB,
    warmPool: count(options.warmPool ?? 2, "warmPool"),
    warmPoolMemoryMiB: within(
      options.warmPoolMemoryMiB ?? defaultMemoryMiB,
      "warmPoolMemoryMiB",
      maxMemoryMiB,
    ),
    maxAutoProcesses: positive(options.maxAutoProcesses ?? 4, "maxAutoProcesses"),
    maxInflightPerProcess: positive(options.maxInflightPerProcess ?? 16, "maxInflightPerProcess"),
    idleSwapMs: parseDuration(options.idleSwapMs ?? 0, "idleSwapMs"),
    invocationTimeoutMs: positive(options.invocationTimeoutMs ?? 60_000, "invocationTimeoutMs"),
    startTimeoutMs: positive(options.startTimeoutMs ?? 60_000, "startTimeoutMs"),
    reconnectGraceMs: positive(options.reconnectGraceMs ?? 30_000, "reconnectGraceMs"),
    alarmRetryMs: positive(options.alarmRetryMs ?? 1_000, "alarmRetryMs"),
    replicaId: replicaName(options.replicaId ?? defaultReplicaId(options, advertiseHost, httpPort)),
    logLevel: options.logLevel ?? "info",
    logFormat: options.logFormat ?? "json",
    processLogLevel: options.processLogLevel ?? "warn",
    errorStacks: options.errorStacks ?? true,
    ...resolveReach(options),
    processNetns: Object.freeze([...(options.processNetns ?? [])]),
  });
}

function resolveReach(
  options: ControlPlaneOptions,
): Pick<ControlPlaneConfig, "processReach" | "rendezvous"> {
  const processReach = parseProcessReach(options.processReach ?? "direct", "processReach");
  const rendezvous = options.rendezvous && resolveRendezvous(options.rendezvous);
  if (processReach !== "direct" && rendezvous === undefined)
    throw new PraaSError("BAD_REQUEST", `processReach ${processReach} needs a rendezvous server`);
  return { processReach, rendezvous };
}

function resolveRendezvous(options: RendezvousOptions): RendezvousSettings {
  if (options.secret.length < MIN_RENDEZVOUS_SECRET_LENGTH)
    throw new PraaSError(
      "BAD_REQUEST",
      `the rendezvous secret needs ${MIN_RENDEZVOUS_SECRET_LENGTH}+ characters`,
    );
  const hosted = options.port === undefined ? undefined : port(options.port, "rendezvous port");
  const addressText = address(options.address, "rendezvous address");
  if (hosted === undefined && addressText === undefined)
    throw new PraaSError("BAD_REQUEST", "rendezvous needs a port to host one or an address");
  return Object.freeze({
    secret: options.secret,
    listen: hosted === undefined ? undefined : { host: options.host ?? "0.0.0.0", port: hosted },
    address: addressText,
    ticketTtlMs: positive(options.ticketTtlMs ?? 30_000, "rendezvous ticketTtlMs"),
  });
}

/** The HTTP port + 1: stable across restarts without a flag. Any free port when HTTP's is. */
export function defaultControlPort(httpPort: number): number {
  return httpPort === 0 || httpPort === 65535 ? 0 : httpPort + 1;
}

/**
 * Named after where peers reach it, so a replica restarted on the same address is the same
 * replica: it takes its own processes back instead of waiting for a "peer" that was its former
 * self. Random only when that address is not fixed (control port 0).
 */
function defaultReplicaId(
  options: ControlPlaneOptions,
  advertiseHost: string,
  httpPort: number,
): string {
  const controlPort = options.controlPort ?? defaultControlPort(httpPort);
  const address =
    options.replicaAddress || (controlPort === 0 ? "" : `${advertiseHost}:${controlPort}`);
  if (address === "") return randomBytes(4).toString("hex");
  return `r-${address.replaceAll(/[^A-Za-z0-9_.-]/g, "-")}`.slice(0, 63);
}

function replicaName(id: string): string {
  assertName(id, "replica");
  return id;
}

/** An optional HOST:PORT, checked now so a typo fails at start, not at the first command. */
function address(value: string | undefined, what: string): string | undefined {
  if (value === undefined || value === "") return undefined;
  const colon = value.lastIndexOf(":");
  const portPart = Number(value.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(portPart) || portPart <= 0 || portPart > 65535)
    throw new PraaSError("BAD_REQUEST", `${what} must be HOST:PORT, got ${JSON.stringify(value)}`);
  return value;
}

function positive(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new PraaSError("BAD_REQUEST", `${what} must be a positive number, got ${value}`);
  }
  return value;
}

function count(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0)
    throw new PraaSError("BAD_REQUEST", `${what} must be an integer of at least 0, got ${value}`);
  return value;
}

function within(value: number, what: string, max: number): number {
  if (positive(value, what) > max)
    throw new PraaSError("BAD_REQUEST", `${what} must be at most ${max}`);
  return value;
}

function port(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new PraaSError("BAD_REQUEST", `${what} must be a port number, got ${value}`);
  }
  return value;
}
