/**
 * Starting a cloud process as a child process of this one and waiting until it serves: the
 * local backend, the benchmarks and the tests all start processes this way.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  PraaSError,
  isErrorCode,
  processLimitArgs,
  serializeFlag,
  type AppEnv,
  type AppPermissions,
  type Durability,
  type ProcessLimits,
  type ProcessReach,
  type SerializeSetting,
} from "../protocol/index.js";
import type { BlobStoreConfig } from "../storage/index.js";
import { killQuietly } from "./proc-table.js";

export const RUNTIME_MAIN = compiledMain();

/** This module's compiled sibling; from TypeScript sources (under vitest) the build output. */
function compiledMain(): string {
  const sibling = fileURLToPath(new URL("./main.js", import.meta.url));
  if (existsSync(sibling)) return sibling;
  return fileURLToPath(new URL("../../dist/runtime/main.js", import.meta.url));
}

export interface LaunchOptions {
  application: string;
  name: string;
  bundlePath: string;
  /** Instead of `bundlePath` (see runtimeArgs): the key the process fetches its bundle by. */
  bundleKey?: string;
  /** Where swapped state lives; handed over in the environment (S3 keys stay off argv). */
  blobs: BlobStoreConfig;
  workers?: number;
  memoryMiB?: number;
  /** Default invocation deadline; `limits.invocationTimeoutMs` overrides it. */
  timeoutMs?: number;
  /** Per-process limits, passed as the process's flags (`--max-connections` etc.). */
  limits?: ProcessLimits;
  maxPayloadBytes?: number;
  restore?: boolean;
  /** "log": acknowledged writes go to the write-ahead log at `walPath` first. */
  durability?: Durability;
  walPath?: string;
  /** Fold the log into a snapshot while serving past this size (and the state's). */
  walCompactBytes?: number;
  /** Swap out and exit after losing the control plane this long. */
  orphanTimeoutMs?: number;
  /** Report itself idle (to be swapped out) after this long unused; 0 or absent: never. */
  idleSwapMs?: number;
  /** How long a swap waits for running invocations before stopping them. */
  drainTimeoutMs?: number;
  /** Control plane `host:port` to register with. */
  control?: string;
  /** Data-plane listen address; default 127.0.0.1. */
  host?: string;
  /** Address clients and peers dial; default `host`. */
  advertiseHost?: string;
  /** How clients reach the process (punch / relay: behind NAT, through the rendezvous). */
  reach?: ProcessReach;
  /**
   * Run the process inside this named network namespace (`ip netns add`; root only): e.g. a private
   * network behind NAT. The process still dials the control plane, outbound.
   */
  netns?: string;
  token: string;
  secret?: string;
  /** The application's peer secret (processes without one neither send nor accept messages). */
  peerSecret?: string | undefined;
  /** The environment of the process's workers (exactly this, plus TMPDIR). */
  appEnv?: AppEnv;
  /** What the workers may do beyond the defaults. */
  permissions?: Partial<AppPermissions>;
  /** Functions whose invocations run one at a time (praas.json "serialize"). */
  serialize?: SerializeSetting;
  logLevel?: string;
  /** Function errors returned to callers carry the stack trace. */
  errorStacks?: boolean;
  /** More command-line flags for the process (e.g. limits: `--max-connections 10`). */
  extraArgs?: string[];
  /** Extra environment for the process itself; nothing of this process's is inherited. */
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

export interface LaunchedProcess {
  child: ChildProcess;
  host: string;
  port: number;
  token: string;
  exited: Promise<number | null>;
}

export async function launchProcess(options: RuntimeOptions): Promise<LaunchedProcess> {
  const [command, ...args] = inNamespace(options.netns, [
    process.execPath,
    RUNTIME_MAIN,
    ...runtimeArgs(options),
  ]);
  const child = spawn(command as string, args, {
    stdio: ["ignore", "pipe", "inherit"],
    // A process group of its own: a Ctrl-C meant for the parent does not reach the process,
    // and the whole group (its workers, anything a function started) can be killed at once.
    detached: true,
    env: runtimeEnv(options),
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      killGroup(child);
      resolve(code);
    }),
  );
  try {
    const ready = await readyLine(child, options.readyTimeoutMs ?? 30_000);
    return { child, exited, host: ready.host, port: ready.port, token: options.token };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

/**
 * nsenter switches only the network namespace and replaces itself with the command (the
 * child's pid is the process's own). Not `ip netns exec`: it also mounts a fresh /sys, which
 * hides the cgroup tree the memory guard works in.
 */
function inNamespace(netns: string | undefined, command: string[]): string[] {
  return netns === undefined ? command : ["nsenter", `--net=/var/run/netns/${netns}`, ...command];
}

/**
 * The process's whole environment: its own settings and secrets, nothing of ours (the control
 * plane's environment may hold API tokens and cloud credentials the process has no use for).
 * (Node itself adds NODE_V8_COVERAGE to every child's environment when it is set: that is how
 * the test suite measures code that runs in cloud processes.)
 */
export function runtimeEnv(options: RuntimeOptions): NodeJS.ProcessEnv {
  return {
    ...options.env,
    PRAAS_PROCESS_TOKEN: options.token,
    PRAAS_CONTROL_SECRET: options.secret ?? "",
    PRAAS_PEER_SECRET: options.peerSecret ?? "",
    PRAAS_BLOB_CONFIG: JSON.stringify(options.blobs),
    PRAAS_APP_ENV: JSON.stringify(options.appEnv ?? {}),
  };
}

function allowList(permissions: Partial<AppPermissions> = {}): string {
  return Object.entries(permissions)
    .filter(([, allowed]) => allowed === true)
    .map(([name]) => name)
    .join(",");
}

/** What runtimeArgs and runtimeEnv need: a launch, its bundle a file or a key to fetch. */
export type RuntimeOptions = Omit<LaunchOptions, "bundlePath"> & { bundlePath?: string };

/** The runtime's command line (after `main.js`); shared with backends that start it elsewhere. */
export function runtimeArgs(o: RuntimeOptions): string[] {
  const args = ["--app", o.application, "--name", o.name, ...bundleArgs(o)];
  args.push("--workers", String(o.workers ?? 1), "--memory", String(o.memoryMiB ?? 512));
  args.push("--log-level", o.logLevel ?? "warn");
  const timeout = o.timeoutMs === undefined ? {} : { invocationTimeoutMs: o.timeoutMs };
  args.push(...processLimitArgs({ ...timeout, ...o.limits }));
  if (o.maxPayloadBytes !== undefined) args.push("--max-payload", String(o.maxPayloadBytes));
  if (o.restore) args.push("--restore");
  if (o.durability === "log") args.push("--durability", "log", "--wal", o.walPath ?? "");
  if (o.walCompactBytes !== undefined) args.push("--wal-compact-bytes", String(o.walCompactBytes));
  if (o.orphanTimeoutMs !== undefined) args.push("--orphan-timeout", String(o.orphanTimeoutMs));
  if (o.idleSwapMs) args.push("--idle-swap", String(o.idleSwapMs));
  if (o.drainTimeoutMs !== undefined) args.push("--drain-timeout", String(o.drainTimeoutMs));
  if (o.control) args.push("--control", o.control);
  if (o.host) args.push("--host", o.host);
  if (o.advertiseHost) args.push("--advertise-host", o.advertiseHost);
  if (o.reach !== undefined && o.reach !== "direct") args.push("--reach", o.reach);
  const allow = allowList(o.permissions);
  if (allow !== "") args.push("--allow", allow);
  const serialize = serializeFlag(o.serialize);
  if (serialize !== "") args.push("--serialize", serialize);
  if (o.errorStacks) args.push("--error-stacks");
  args.push(...(o.extraArgs ?? []));
  return args;
}

function bundleArgs(o: RuntimeOptions): string[] {
  if (o.bundlePath !== undefined) return ["--bundle", o.bundlePath];
  return ["--bundle-key", o.bundleKey ?? ""];
}

/**
 * Once the process is gone, nothing it started may outlive it: its workers (even one stuck in
 * a synchronous loop) and anything its functions spawned are in its process group.
 */
function killGroup(child: ChildProcess): void {
  if (child.pid !== undefined) killQuietly(-child.pid);
}

export interface ReadyLine {
  event: "ready" | "failed";
  host: string;
  port: number;
  error?: { code: string; message: string };
}

function readyLine(child: ChildProcess, timeoutMs: number): Promise<ReadyLine> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(
      () => reject(new PraaSError("BACKEND_ERROR", `process not ready after ${timeoutMs} ms`)),
      timeoutMs,
    );
    lines.once("line", (line) => {
      clearTimeout(timer);
      const ready = parseReady(line);
      if (ready?.event === "ready") resolve(ready);
      else reject(startFailure(ready?.error));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new PraaSError("BACKEND_ERROR", `process exited with code ${code} before it was ready`),
      );
    });
  });
}

export function parseReady(line: string): ReadyLine | undefined {
  try {
    return JSON.parse(line) as ReadyLine;
  } catch {
    return undefined;
  }
}

export function startFailure(error: ReadyLine["error"]): PraaSError {
  if (error && isErrorCode(error.code)) return new PraaSError(error.code, error.message);
  return new PraaSError("BACKEND_ERROR", error?.message ?? "process failed to start");
}
