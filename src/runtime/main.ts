#!/usr/bin/env node
/**
 * Entry of a cloud process (what a backend starts). Reads flags and the secrets from the
 * environment (PRAAS_PROCESS_TOKEN, PRAAS_CONTROL_SECRET, PRAAS_BLOB_CONFIG: the JSON blob-store
 * config, so S3 credentials never appear on a command line), starts the process, and prints one
 * JSON line on stdout once it serves: {"event":"ready","host","port","token","functions"}.
 * Logs go to stderr. Exit codes: 0 after a clean stop or swap-out, 1 when start-up failed.
 */
import { Command, InvalidArgumentError } from "commander";
import { PraaSError } from "../protocol/index.js";
import { createLogger, type LogLevel, type Logger } from "../logging/index.js";
import { openBlobStore, type BlobStoreConfig } from "../storage/index.js";
import { resolveProcessConfig, type ProcessConfig, type PeerEntry } from "./config.js";
import { CloudProcess } from "./cloud-process.js";
import { ControlLink, parsePeers } from "./control-link.js";

const program = new Command("praas-process")
  .description("run one PraaS cloud process")
  .requiredOption("--app <name>", "application name")
  .requiredOption("--name <name>", "process name")
  .requiredOption("--bundle <file>", "built application bundle (ESM)")
  .option("--blob-dir <dir>", "disk blob store for swapped state (unless PRAAS_BLOB_CONFIG is set)")
  .option("--workers <n>", "worker subprocesses", int, 1)
  .option("--memory <MiB>", "memory for the whole process", int, 512)
  .option("--host <host>", "data-plane listen address", "127.0.0.1")
  .option("--port <port>", "data-plane port (0: any free port)", int, 0)
  .option("--advertise-host <host>", "address peers and clients dial")
  .option("--max-payload <bytes>", "largest payload", int, 64 * 1024 * 1024)
  .option("--timeout <ms>", "invocation timeout", int, 60_000)
  .option("--drain-timeout <ms>", "how long a swap waits for running invocations", int, 10_000)
  .option("--restore", "restore swapped state before serving", false)
  .option("--peers <json>", "static peer directory: [{name,status,address:{host,port,token}}]")
  .option("--control <host:port>", "control plane to register with")
  .option(
    "--orphan-timeout <ms>",
    "swap out and exit after losing the control plane this long",
    int,
    300_000,
  )
  .option("--log-level <level>", "log level", "info");

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError("not an integer");
  return n;
}

interface Flags {
  app: string;
  name: string;
  bundle: string;
  blobDir?: string;
  workers: number;
  memory: number;
  host: string;
  port: number;
  advertiseHost?: string;
  maxPayload: number;
  timeout: number;
  drainTimeout: number;
  restore: boolean;
  peers?: string;
  control?: string;
  orphanTimeout: number;
  logLevel: LogLevel;
}

function configFrom(flags: Flags, env: NodeJS.ProcessEnv): ProcessConfig {
  return resolveProcessConfig({
    application: flags.app,
    name: flags.name,
    bundlePath: flags.bundle,
    blobs: blobConfig(flags, env),
    workers: flags.workers,
    memoryMiB: flags.memory,
    host: flags.host,
    port: flags.port,
    advertiseHost: flags.advertiseHost,
    token: env.PRAAS_PROCESS_TOKEN || undefined,
    maxPayloadBytes: flags.maxPayload,
    invocationTimeoutMs: flags.timeout,
    drainTimeoutMs: flags.drainTimeout,
    orphanTimeoutMs: flags.orphanTimeout,
    restore: flags.restore,
    peers: flags.peers ? (JSON.parse(flags.peers) as PeerEntry[]) : [],
    control: flags.control
      ? controlAddress(flags.control, env.PRAAS_CONTROL_SECRET ?? "")
      : undefined,
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
  return { host: value.slice(0, at), port: Number(value.slice(at + 1)), secret };
}

async function main(): Promise<void> {
  const flags = program.parse().opts<Flags>();
  const log = createLogger(`process:${flags.app}/${flags.name}`, flags.logLevel);
  let config: ProcessConfig;
  try {
    config = configFrom(flags, process.env);
  } catch (error) {
    fail(log, error);
    return;
  }
  const blobs = await openBlobStore(config.blobs);
  let control: ControlLink | undefined;
  const proc = new CloudProcess(config, blobs, log, (peer) => resumeVia(control, peer));
  const exit = (code: number): void => void proc.stop().finally(() => process.exit(code));
  process.once("SIGTERM", () => exit(0));
  process.once("SIGINT", () => exit(0));
  try {
    await proc.start();
    control = config.control ? await connectControl(config, proc, log) : undefined;
  } catch (error) {
    await proc.stop();
    fail(log, error);
    return;
  }
  // Without a control plane nobody would ever stop us once our parent is gone.
  if (!config.control) watchParent(log, () => exit(0));
  const ready = {
    event: "ready",
    host: config.advertiseHost,
    port: proc.port,
    token: config.token,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
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

async function resumeVia(control: ControlLink | undefined, peer: string): Promise<void> {
  if (!control) throw new PraaSError("PEER_UNAVAILABLE", `process "${peer}" is swapped out`);
  await control.resume(peer);
}

async function connectControl(
  config: ProcessConfig,
  proc: CloudProcess,
  log: Logger,
): Promise<ControlLink> {
  const control = new ControlLink(
    {
      ...(config.control as NonNullable<ProcessConfig["control"]>),
      application: config.application,
      process: config.name,
      orphanTimeoutMs: config.orphanTimeoutMs,
    },
    {
      endpoint: () => ({ host: config.advertiseHost, port: proc.port, token: config.token }),
      command: (name, payload) => runCommand(proc, name, payload),
      afterReply: (name) => {
        if (name === "swap" || name === "stop") {
          control.close();
          setImmediate(() => process.exit(0));
        }
      },
      orphaned: () => void swapAndExit(proc, log),
    },
    log,
  );
  await control.connect();
  return control;
}

/**
 * Nobody manages us any more: keep the state rather than run forever. The control plane finds
 * it under the usual key and can resume the process from it.
 */
async function swapAndExit(proc: CloudProcess, log: Logger): Promise<void> {
  try {
    const { size, key } = await proc.swapOut();
    log.warn({ size, key }, "control plane unreachable for too long; state swapped out, exiting");
    process.exit(0);
  } catch (error) {
    log.error({ err: String(error) }, "control plane unreachable and swap-out failed; exiting");
    process.exit(1);
  }
}

async function runCommand(proc: CloudProcess, name: string, payload: Buffer): Promise<unknown> {
  switch (name) {
    case "swap":
      return proc.swapOut();
    case "stop":
      return proc.stop();
    case "peers":
      return proc.peers.update(parsePeers(payload));
    case "status":
      return {
        status: proc.status,
        port: proc.port,
        workers: proc.workerPids,
        stateBytes: proc.state.bytes,
        stateKeys: proc.state.size,
      };
    default:
      throw new PraaSError("BAD_REQUEST", `unknown command ${name}`);
  }
}

function fail(log: Logger, error: unknown): void {
  const record =
    error instanceof PraaSError ? error.toRecord() : { code: "INTERNAL", message: String(error) };
  log.error(record, "process failed to start");
  process.stdout.write(`${JSON.stringify({ event: "failed", error: record })}\n`);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
}

void main();
