/**
 * Starting a cloud process as a child process of this one and waiting until it serves: the
 * local backend, the benchmarks and the tests all start processes this way.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface, type Interface } from "node:readline";
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
import { killWorkerUser } from "./worker-sandbox.js";

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
  const child = spawnRuntime(runtimeArgs(options), runtimeEnv(options), "ignore", options.netns);
  const exited = exitOf(child);
  try {
    const ready = await readyLine(child, options.readyTimeoutMs ?? 30_000);
    return { child, exited, host: ready.host, port: ready.port, token: options.token };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

/**
 * V8 compiles each function when it first runs. A slot started ahead compiles all of the
 * runtime's code while it waits instead (about 2 MiB more), so that its assignment, its first
 * connections and calls run no compiler on the way to a first result; it also rehearses them
 * (`--ahead`, warm-slot.ts). Started on the spot, either would only make it later.
 */
const AHEAD_FLAGS = ["--no-lazy"];

function spawnRuntime(
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin: "ignore" | "pipe",
  netns?: string,
  flags: string[] = [],
): ChildProcess {
  const node = [process.execPath, ...flags, RUNTIME_MAIN, ...args];
  const [command, ...rest] = inNamespace(netns, node);
  return spawn(command as string, rest, {
    stdio: [stdin, "pipe", "inherit"],
    // A process group of its own: a Ctrl-C meant for the parent does not reach the process,
    // and the whole group (its workers, anything a function started) can be killed at once.
    detached: true,
    env,
  });
}

/** Resolves with the exit code once the runtime is gone, after killing what it left behind. */
function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      killGroup(child);
      resolve(code);
    }),
  );
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

/** What a warm-pool slot is started with: the class of processes it can become. */
export interface SlotLaunchOptions {
  workers: number;
  memoryMiB: number;
  maxPayloadBytes: number;
  /** What the workers may do: fixed at their spawn. */
  permissions?: Partial<AppPermissions>;
  logLevel?: string;
  /** Extra environment for the runtime itself; nothing of this process's is inherited. */
  env?: NodeJS.ProcessEnv;
  /**
   * The data dir of the control plane it serves, on its command line only so that `ps` (and
   * tools that clean up after a deployment) can tell whose runtime it is.
   */
  owner?: string;
  /** How long the slot may take to boot, and later the assigned process to be ready. */
  readyTimeoutMs?: number;
}

/**
 * A runtime started ahead of its process (`main.js --warm`): its sandbox and workers are up,
 * it waits for `assign`. One assignment only: a slot never serves a second process.
 */
export class WarmRuntime {
  readonly child: ChildProcess;
  readonly slot: SlotLaunchOptions;
  readonly exited: Promise<number | null>;
  readonly #lines: Interface;
  #assigned = false;

  private constructor(slot: SlotLaunchOptions, ahead: boolean) {
    this.slot = slot;
    const args = ["--warm", ...(ahead ? ["--ahead"] : []), ...slotArgs(slot)];
    this.child = spawnRuntime(args, { ...slot.env }, "pipe", undefined, ahead ? AHEAD_FLAGS : []);
    this.child.stdin?.on("error", () => undefined); // EPIPE when it died: its exit tells
    this.exited = exitOf(this.child);
    this.#lines = createInterface({ input: this.child.stdout! });
  }

  /**
   * Starts a slot; resolves once its workers are booted, rejects (leaving nothing) otherwise.
   * `ahead`: for a pool, to be assigned later (see AHEAD_FLAGS).
   */
  static async start(slot: SlotLaunchOptions, ahead = false): Promise<WarmRuntime> {
    const runtime = new WarmRuntime(slot, ahead);
    try {
      await readyLine(runtime.child, slot.readyTimeoutMs ?? 30_000, runtime.#lines, "warm");
      return runtime;
    } catch (error) {
      runtime.child.kill("SIGKILL");
      throw error;
    }
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Makes it the process `options` describes, as `launchProcess` would start it. */
  async assign(options: RuntimeOptions): Promise<LaunchedProcess> {
    if (this.#assigned) throw new PraaSError("INVALID_STATE", "a warm slot is assigned only once");
    this.#assigned = true;
    if (!this.alive)
      throw new PraaSError("BACKEND_ERROR", "the warm slot exited before assignment");
    const assignment = { args: runtimeArgs(options), env: runtimeEnv(options) };
    const timeoutMs = options.readyTimeoutMs ?? this.slot.readyTimeoutMs ?? 30_000;
    const ready = readyLine(this.child, timeoutMs, this.#lines, "ready");
    this.child.stdin?.end(`${JSON.stringify(assignment)}\n`);
    try {
      const { host, port } = await ready;
      return { child: this.child, exited: this.exited, host, port, token: options.token };
    } catch (error) {
      this.child.kill("SIGKILL");
      throw error;
    }
  }

  /** Discards an unassigned slot (it removes its sandbox and exits); resolves once it is gone. */
  discard(graceMs = 5000): Promise<void> {
    return terminate(this.child, this.exited, graceMs);
  }
}

/** SIGTERM (on which a process swaps its state out), SIGKILL after `graceMs`, until `exited`. */
export async function terminate(
  child: ChildProcess,
  exited: Promise<unknown>,
  graceMs: number,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

function slotArgs(slot: SlotLaunchOptions): string[] {
  const args = ["--workers", String(slot.workers), "--memory", String(slot.memoryMiB)];
  args.push("--max-payload", String(slot.maxPayloadBytes), "--log-level", slot.logLevel ?? "warn");
  const allow = allowList(slot.permissions);
  if (allow !== "") args.push("--allow", allow);
  if (slot.owner !== undefined) args.push("--owner", slot.owner);
  return args;
}

/**
 * Once the process is gone, nothing it started may outlive it: its workers (even one stuck in
 * a synchronous loop) and anything its functions spawned are in its process group, or, if they
 * left it (a session of their own), still run as its workers' uid.
 */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  killQuietly(-child.pid);
  killWorkerUser(child.pid);
}

export interface ReadyLine {
  event: "ready" | "warm" | "failed";
  host: string;
  port: number;
  error?: { code: string; message: string };
}

function readyLine(
  child: ChildProcess,
  timeoutMs: number,
  lines: Interface = createInterface({ input: child.stdout! }),
  expected: ReadyLine["event"] = "ready",
): Promise<ReadyLine> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new PraaSError("BACKEND_ERROR", `process not ready after ${timeoutMs} ms`)),
      timeoutMs,
    );
    lines.once("line", (line) => {
      clearTimeout(timer);
      const ready = parseReady(line);
      if (ready?.event === expected) resolve(ready);
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
