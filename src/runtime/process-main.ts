/**
 * A cloud process from its command line (main.ts, or an assignment a warm slot took): flags and
 * secrets (PRAAS_PROCESS_TOKEN, PRAAS_CONTROL_SECRET, PRAAS_PEER_SECRET, PRAAS_BLOB_CONFIG: the
 * JSON blob-store config, so S3 credentials never appear on a command line; PRAAS_APP_ENV: the
 * JSON environment of the workers) become its config; it starts, registers with its control
 * plane, and prints its "ready" line; its control link's commands and signals stop it.
 */
import type { Socket } from "node:net";
import { Command, InvalidArgumentError } from "commander";
import {
  MAX_LISTED_STATE_KEYS,
  MAX_PORT,
  PraaSError,
  parseInteger,
  parsePermissionList,
  parseSerializeFlag,
  parseProcessReach,
  type AlarmRequest,
  type AppEnv,
  type Durability,
  type PeerTicket,
  type SwapReply,
} from "../protocol/index.js";
import { createLogger, type LogLevel, type Logger } from "../logging/index.js";
import { openBlobStore, type BlobStore, type BlobStoreConfig } from "../storage/index.js";
import { resolveProcessConfig, type ProcessConfig, type PeerEntry } from "./config.js";
import { CloudProcess, type SwapResult } from "./cloud-process.js";
import { ControlLink, dialAhead, type CommandHandlers } from "./control-link.js";
import { fetchBundleFile } from "./bundle-fetch.js";
import { joinPairing } from "./pairing.js";
import { LogForwarder } from "./log-forwarder.js";
import type { MemoryGuardMode } from "./memory-guard.js";
import type { WarmSlot } from "./warm-slot.js";

/** A new parser each time: a warm member parses its assignment after its own flags. */
export const runtimeProgram = (): Command =>
  new Command("praas-process")
    .description("run one PraaS cloud process")
    .requiredOption("--app <name>", "application name")
    .requiredOption("--name <name>", "process name")
    .option("--bundle <file>", "built application bundle (ESM)")
    .option(
      "--bundle-key <key>",
      "without --bundle: fetch the bundle stored under this key from the --control plane",
    )
    .option(
      "--blob-dir <dir>",
      "disk blob store for swapped state (unless PRAAS_BLOB_CONFIG is set)",
    )
    .option("--workers <n>", "worker subprocesses", int, 1)
    .option(
      "--memory <MiB>",
      "memory for the whole process, workers and off-heap included",
      int,
      512,
    )
    .option(
      "--memory-guard <mode>",
      "enforce --memory with: auto (cgroup + watchdog), watchdog, off",
      "auto",
    )
    .option(
      "--max-stored <bytes>",
      "bytes of state plus undelivered messages (default: half of --memory less 48 MiB, at least a quarter)",
      int,
    )
    .option("--max-inflight <n>", "invocations in flight in the process", int, 4096)
    .option(
      "--max-inflight-per-connection <n>",
      "invocations in flight on one connection",
      int,
      1024,
    )
    .option("--max-connections <n>", "authenticated data-plane connections", int, 1024)
    .option("--max-hello <bytes>", "largest frame payload before HELLO", int, 64 * 1024)
    .option(
      "--write-backlog <bytes>",
      "unsent bytes for one connection before it is not read",
      int,
      1024 * 1024,
    )
    .option(
      "--max-inflight-bytes <bytes>",
      "payload bytes of one connection's unanswered invocations before it is not read",
      int,
      16 * 1024 * 1024,
    )
    .option("--host <host>", "data-plane listen address", "127.0.0.1")
    .option("--port <port>", "data-plane port (0: any free port)", int, 0)
    .option("--advertise-host <host>", "address peers and clients dial")
    .option(
      "--reach <how>",
      "how clients reach us: direct, or punch / relay (behind NAT: paired through the rendezvous)",
      "direct",
    )
    .option("--max-payload <bytes>", "largest payload", int, 64 * 1024 * 1024)
    .option("--timeout <ms>", "invocation timeout", int, 60_000)
    .option("--drain-timeout <ms>", "how long a swap waits for running invocations", int, 10_000)
    .option("--restore", "restore swapped state before serving", false)
    .option(
      "--durability <mode>",
      "memory (state survives swaps) or log (every acknowledged write survives a crash)",
      "memory",
    )
    .option("--wal <file>", "the write-ahead log file (with --durability log)")
    .option(
      "--wal-compact-bytes <n>",
      "fold the log into a snapshot while serving once it is larger than this and than the state",
      int,
      64 * 1024 * 1024,
    )
    .option("--peers <json>", "static peer directory: [{name,status,address:{host,port,token}}]")
    .option("--control <host:port>", "control plane to register with")
    .option(
      "--orphan-timeout <ms>",
      "swap out and exit after losing the control plane this long",
      int,
      300_000,
    )
    .option(
      "--idle-swap <ms>",
      "report idle to the control plane (which swaps the process out) after this long without an invocation, a message or a client connection; 0: never",
      int,
      0,
    )
    .option(
      "--allow <list>",
      "what workers may do: comma-separated childProcess, workerThreads, network",
      "",
    )
    .option(
      "--serialize <list>",
      "functions whose invocations run one at a time: comma-separated names, or * for all",
      "",
    )
    .option("--error-stacks", "function errors returned to callers carry the stack trace", false)
    .option("--log-level <level>", "log level", "info");

function int(value: string): number {
  try {
    return parseInteger(value, "the value");
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

export interface Flags {
  app: string;
  name: string;
  bundle?: string;
  bundleKey?: string;
  blobDir?: string;
  workers: number;
  memory: number;
  memoryGuard: MemoryGuardMode;
  maxStored?: number;
  maxInflight: number;
  maxInflightPerConnection: number;
  maxConnections: number;
  maxHello: number;
  writeBacklog: number;
  maxInflightBytes: number;
  host: string;
  port: number;
  advertiseHost?: string;
  reach: string;
  maxPayload: number;
  timeout: number;
  drainTimeout: number;
  restore: boolean;
  durability: Durability;
  wal?: string;
  walCompactBytes: number;
  peers?: string;
  control?: string;
  orphanTimeout: number;
  idleSwap: number;
  allow: string;
  serialize: string;
  errorStacks: boolean;
  logLevel: LogLevel;
}

export function configFrom(
  flags: Flags,
  env: NodeJS.ProcessEnv,
  bundlePath: string,
): ProcessConfig {
  return resolveProcessConfig({
    application: flags.app,
    name: flags.name,
    bundlePath,
    blobs: blobConfig(flags, env),
    workers: flags.workers,
    memoryMiB: flags.memory,
    memoryGuard: flags.memoryGuard,
    maxStoredBytes: flags.maxStored,
    maxInflight: flags.maxInflight,
    maxInflightPerConnection: flags.maxInflightPerConnection,
    maxConnections: flags.maxConnections,
    maxHelloBytes: flags.maxHello,
    writeBacklogBytes: flags.writeBacklog,
    maxInflightBytesPerConnection: flags.maxInflightBytes,
    host: flags.host,
    port: flags.port,
    advertiseHost: flags.advertiseHost,
    reach: parseProcessReach(flags.reach, "--reach"),
    token: env.PRAAS_PROCESS_TOKEN || undefined,
    maxPayloadBytes: flags.maxPayload,
    invocationTimeoutMs: flags.timeout,
    drainTimeoutMs: flags.drainTimeout,
    orphanTimeoutMs: flags.orphanTimeout,
    idleSwapMs: flags.idleSwap,
    restore: flags.restore,
    durability: flags.durability,
    walPath: flags.wal,
    walCompactBytes: flags.walCompactBytes,
    peers: flags.peers ? (JSON.parse(flags.peers) as PeerEntry[]) : [],
    control: flags.control
      ? controlAddress(flags.control, env.PRAAS_CONTROL_SECRET ?? "")
      : undefined,
    peerSecret: env.PRAAS_PEER_SECRET || undefined,
    appEnv: env.PRAAS_APP_ENV ? (JSON.parse(env.PRAAS_APP_ENV) as AppEnv) : {},
    permissions: parsePermissionList(flags.allow),
    serialize: parseSerializeFlag(flags.serialize),
    errorStacks: flags.errorStacks,
  });
}

/** The bundle given on the command line, or else the one the control plane holds for us. */
async function bundleFile(flags: Flags, env: NodeJS.ProcessEnv): Promise<string> {
  if (flags.bundle !== undefined) return flags.bundle;
  if (flags.control === undefined || flags.bundleKey === undefined)
    throw new PraaSError("BAD_REQUEST", "give --bundle, or --control with --bundle-key");
  const control = controlAddress(flags.control, env.PRAAS_CONTROL_SECRET ?? "");
  return fetchBundleFile({
    ...control,
    application: flags.app,
    process: flags.name,
    key: flags.bundleKey,
  });
}

function blobConfig(flags: Flags, env: NodeJS.ProcessEnv): BlobStoreConfig {
  if (env.PRAAS_BLOB_CONFIG) return JSON.parse(env.PRAAS_BLOB_CONFIG) as BlobStoreConfig;
  if (flags.blobDir) return { kind: "disk", root: flags.blobDir };
  throw new PraaSError("BAD_REQUEST", "give --blob-dir or PRAAS_BLOB_CONFIG");
}

function controlAddress(
  value: string,
  secret: string,
): { host: string; port: number; secret: string } {
  const at = value.lastIndexOf(":");
  return {
    host: value.slice(0, at),
    port: parseInteger(value.slice(at + 1), "--control port", 0, MAX_PORT),
    secret,
  };
}

/** The process its own command line describes (not a warm slot: see warm-main.ts). */
export async function runFromCommandLine(): Promise<void> {
  await runProcess(runtimeProgram().parse().opts<Flags>(), process.env);
}

export async function runProcess(
  flags: Flags,
  env: NodeJS.ProcessEnv,
  slot?: WarmSlot,
): Promise<void> {
  const log = createLogger(`process:${flags.app}/${flags.name}`, flags.logLevel);
  let config: ProcessConfig;
  try {
    config = configFrom(flags, env, await bundleFile(flags, env));
    const misfit = slot?.misfit(config);
    if (misfit) throw new PraaSError("BAD_REQUEST", `the warm slot does not fit: ${misfit}`);
  } catch (error) {
    await slot?.discard();
    fail(log, error);
    return;
  }
  // Dialled now, registered over once the state is back: the connect overlaps the start.
  const controlSocket = config.control && dialAhead(config.control.host, config.control.port);
  // Opened while the process starts: the workers get LOAD without waiting for its directory.
  const blobs = openingBlobStore(config.blobs);
  let control: ControlLink | undefined;
  const proc = new CloudProcess(config, blobs, log, {
    resumePeer: (peer) => resumeVia(control, peer),
    peerTicket: (peer) => ticketVia(control, peer),
    alarms: (request) => alarmVia(control, request),
    ...(slot ? { slot } : {}),
  });
  const onSignal = (signal: NodeJS.Signals): void => void stopOnSignal(proc, control, log, signal);
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    // Registration (it needs only the port) runs while the workers load and the state returns.
    await proc.start(async () => {
      await blobs.opened; // a process whose store cannot open never registers
      if (config.control) control = await connectControl(config, proc, log, controlSocket);
    });
    if (control) watchIdle(proc, control, log);
  } catch (error) {
    control?.close();
    void controlSocket?.then((socket) => control === undefined && socket?.destroy());
    await proc.stop();
    fail(log, error);
    return;
  }
  // Without a control plane nobody would ever stop us once our parent is gone.
  if (!config.control) watchParent(log, () => void proc.stop().finally(() => process.exit(0)));
  const ready = {
    event: "ready",
    host: config.advertiseHost,
    port: proc.port,
    token: config.token,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

/**
 * The blob store described by `config`, usable at once: each call waits until it is open (a
 * call fails as the opening did). `opened` settles once it is open.
 */
function openingBlobStore(config: BlobStoreConfig): BlobStore & { opened: Promise<BlobStore> } {
  const opened = openBlobStore(config);
  opened.catch(() => undefined); // whoever uses it gets the error
  return {
    kind: config.kind,
    opened,
    put: async (key, body) => (await opened).put(key, body),
    get: async (key) => (await opened).get(key),
    getBytes: async (key) => (await opened).getBytes(key),
    stat: async (key) => (await opened).stat(key),
    delete: async (key) => (await opened).delete(key),
    list: async (prefix) => (await opened).list(prefix),
    close: async () => (await opened.catch(() => undefined))?.close(),
  };
}

/** A swap-out begun by a signal; a `swap` command arriving meanwhile shares it. */
let signalSwap: Promise<SwapResult> | undefined;

/**
 * SIGTERM / SIGINT. A managed process (one with a control link) never drops its state: it
 * swaps out to the blob store, tells the control plane (when the link is up) so its record
 * becomes `swapped`, and exits. When the state cannot be stored (a full disk), it stays active
 * with it, as after any failed swap; the next signal tries again, and only SIGKILL drops it.
 * An unmanaged one just stops.
 */
async function stopOnSignal(
  proc: CloudProcess,
  control: ControlLink | undefined,
  log: Logger,
  signal: NodeJS.Signals,
): Promise<void> {
  if (proc.status === "swapping") return; // a swap command is under way; it exits when done
  if (control === undefined || proc.status !== "active") {
    await proc.stop().catch(() => undefined);
    process.exit(0);
  }
  try {
    signalSwap = proc.swapOut();
    const { size, key } = await signalSwap;
    log.warn({ signal, size, key }, "stopped by a signal; state swapped out");
    await control.reportSwapped(size).catch((error: unknown) => {
      log.warn({ err: String(error) }, "could not tell the control plane about the swap");
    });
    process.exit(0);
  } catch (error) {
    signalSwap = undefined;
    if (error instanceof PraaSError && error.code === "REPLACED") return stopAndExit(proc);
    log.error(
      { signal, err: String(error) },
      "stop signal: the state could not be swapped out; still active with it (signal again to retry)",
    );
  }
}

const PARENT_CHECK_MS = 1_000;

/**
 * Calls `onOrphaned` once our parent process is gone (we were re-parented: the parent pid
 * changed). For processes started without --control, e.g. by a test or a script that died.
 */
function watchParent(log: Logger, onOrphaned: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    log.warn({ parent }, "parent process gone and no control plane; stopping");
    onOrphaned();
  }, PARENT_CHECK_MS);
  timer.unref();
}

/** Scale to zero: once nothing used the process for its idle time, the control plane is told. */
function watchIdle(proc: CloudProcess, control: ControlLink, log: Logger): void {
  proc.idle.start(() => {
    if (proc.status !== "active") return;
    log.info({ idleSince: proc.idle.idleSince }, "idle; asking to be swapped out");
    control.reportIdle().catch((error: unknown) => {
      log.warn({ err: String(error) }, "could not report idle to the control plane");
    });
  });
}

async function resumeVia(control: ControlLink | undefined, peer: string): Promise<void> {
  if (!control) throw new PraaSError("PEER_UNAVAILABLE", `process "${peer}" is swapped out`);
  await control.resume(peer);
}

async function ticketVia(control: ControlLink | undefined, peer: string): Promise<PeerTicket> {
  if (!control) throw new PraaSError("PEER_UNAVAILABLE", `process "${peer}" is behind NAT`);
  return control.peerTicket(peer);
}

async function alarmVia(control: ControlLink | undefined, request: AlarmRequest): Promise<boolean> {
  if (!control) throw new PraaSError("UNAVAILABLE", "alarms need a control plane");
  return control.alarm(request);
}

async function connectControl(
  config: ProcessConfig,
  proc: CloudProcess,
  log: Logger,
  ahead?: Promise<Socket | undefined>,
): Promise<ControlLink> {
  const control = new ControlLink(
    {
      ...(config.control as NonNullable<ProcessConfig["control"]>),
      application: config.application,
      process: config.name,
      orphanTimeoutMs: config.orphanTimeoutMs,
    },
    {
      endpoint: () => ({
        host: config.advertiseHost,
        port: proc.port,
        token: config.token,
        reach: config.reach,
      }),
      commands: commandHandlers(proc, log),
      afterReply: () => {
        // Only a swap that stored the state (or a stop) ends the process; a failed swap left it active.
        if (proc.status === "swapped" || proc.status === "stopped") {
          void flushBriefly(forwarder)
            .catch(() => undefined)
            .then(() => control.closeGracefully(LINK_CLOSE_MS))
            .finally(() => process.exit(0));
        }
      },
      orphaned: () => void swapAndExit(proc, log),
      replaced: () => void stopAndExit(proc),
    },
    log,
  );
  const forwarder = new LogForwarder({
    logs: proc.logs,
    metrics: () => proc.metricsReport(),
    send: (batch) => control.sendLogs(batch),
  });
  await control.connect(ahead);
  return control;
}

/** The last lines of a process that is about to exit, if they get through quickly. */
const LAST_FLUSH_MS = 500;
/** How long an exiting process waits for the control plane to close the link after it. */
const LINK_CLOSE_MS = 1000;

function flushBriefly(forwarder: LogForwarder): Promise<void> {
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, LAST_FLUSH_MS).unref());
  return Promise.race([forwarder.flush(), timeout]);
}

/**
 * Nobody manages us any more: keep the state rather than run forever. The control plane finds
 * it under the usual key and can resume the process from it. When the state cannot be stored,
 * the process keeps serving it and tries again at the next orphan notice (the control link
 * keeps re-dialling), rather than exit and lose it.
 */
async function swapAndExit(proc: CloudProcess, log: Logger): Promise<void> {
  if (proc.status !== "active") return; // a swap is already under way
  try {
    const { size, key } = await proc.swapOut();
    log.warn({ size, key }, "control plane unreachable for too long; state swapped out, exiting");
    process.exit(0);
  } catch (error) {
    if (error instanceof PraaSError && error.code === "REPLACED") {
      log.warn({ err: error.message }, "a newer instance replaced this process; exiting");
      await stopAndExit(proc);
      return;
    }
    log.error(
      { err: String(error) },
      "control plane unreachable and swap-out failed; still serving",
    );
  }
}

/**
 * A newer instance of this process serves in our place (we were marked failed while we could
 * not reach the control plane, then resumed elsewhere): our state is the older one, so nothing
 * of it is stored; the newer instance has every write the log acknowledged.
 */
async function stopAndExit(proc: CloudProcess): Promise<void> {
  await proc.stop().catch(() => undefined);
  process.exit(0);
}

function commandHandlers(proc: CloudProcess, log: Logger): CommandHandlers {
  return {
    // A swap already under way (a stop signal) is the one the control plane gets.
    swap: (body) =>
      body?.ifIdle ? idleSwap(proc, body.swapId) : (signalSwap ?? proc.swapOut(body?.swapId)),
    stop: async () => {
      await proc.stop();
      return null;
    },
    peers: (body) => {
      if (Array.isArray(body)) proc.peers.update(body);
      else proc.peers.patch(body);
      return Promise.resolve(null);
    },
    pair: (command) => {
      joinPairing(command, proc, log);
      return Promise.resolve(null);
    },
    status: () =>
      Promise.resolve({
        status: proc.status,
        port: proc.port,
        workers: proc.workerPids,
        stateBytes: proc.state.bytes,
        stateKeys: proc.state.size,
        connections: proc.connectionCounts,
        ...(proc.walStats ? { wal: proc.walStats } : {}),
      }),
    state: () => Promise.resolve(proc.state.listing(MAX_LISTED_STATE_KEYS)),
  };
}

/**
 * An idle swap-out, unless the process was used since it reported itself idle. No await
 * between the check and swapOut taking the process out of service, so no call slips between.
 */
async function idleSwap(proc: CloudProcess, swapId: string | undefined): Promise<SwapReply> {
  const idleSince = proc.idle.idleSince;
  if (!proc.idle.idle || idleSince === undefined || signalSwap)
    throw new PraaSError("INVALID_STATE", "the process is in use again; not swapped out");
  return { ...(await proc.swapOut(swapId)), idleSince };
}

export function fail(log: Logger, error: unknown): void {
  const record =
    error instanceof PraaSError ? error.toRecord() : { code: "INTERNAL", message: String(error) };
  log.error(record, "process failed to start");
  process.stdout.write(`${JSON.stringify({ event: "failed", error: record })}\n`);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
}
