/**
 * Where and how a process's workers run, so user code reaches nothing of the platform's:
 *
 * - a per-process directory (created at start, or when a warm-pool slot is started, and removed
 *   at stop, or by a later process if this one was killed: stale-sandboxes.ts) holding a copy
 *   of the bundle (put there when the process is assigned: the permission flags name its path
 *   before it exists) and the workers' scratch directory, their TMPDIR and the only place they
 *   may write;
 * - Node's permission model: reads limited to the worker's own code and the bundle, writes to
 *   the scratch directory, no child processes or worker threads unless the application asks;
 * - no environment but TMPDIR at spawn: the application's declared environment, and nothing
 *   else, comes with the LOAD frame (worker-handle.ts);
 * - when this process runs as root: an unprivileged uid/gid of its own (so workers of two
 *   processes cannot read each other's files, and none can read the data dir), and, unless the
 *   application asks for the network, a fresh network namespace (`unshare -n`), so a function
 *   cannot reach the control plane or other processes on loopback.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, copyFileSync } from "node:fs";
import { access, chown, constants, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { AppPermissions } from "../protocol/index.js";
import { killUser } from "./proc-table.js";
import { removeStaleSandboxes, sandboxName } from "./stale-sandboxes.js";

/**
 * What a worker runs: worker/main.ts with everything it imports in one file (built by
 * `npm run build`, scripts/bundle-worker.mjs), so it is also all of our code a worker may read.
 */
const WORKER_MAIN = fileURLToPath(new URL("./worker-bundle.js", import.meta.url));
/** Worker uids are this plus the process's pid: distinct among live processes, never 0. */
export const WORKER_UID_BASE = 200_000;

/** The uid the workers of process `pid` run as: one of their own when we are root, else none. */
export function workerUid(pid: number): number | undefined {
  return process.getuid?.() === 0 ? WORKER_UID_BASE + pid : undefined;
}

/**
 * Kills whatever still runs as the workers' uid of process `pid`, once it is gone or going: a
 * program a function started in a session of its own has left the process group, never the uid.
 */
export function killWorkerUser(pid: number): void {
  const uid = workerUid(pid);
  if (uid !== undefined) killUser(uid);
}
const UNSHARE_CANDIDATES = ["/usr/bin/unshare", "/bin/unshare", "/usr/sbin/unshare"];

export interface SandboxOptions {
  /** Names the directory: `app-name` of the process, or `pool` for a warm-pool slot. */
  label: string;
  /** Fixed for the workers' life (spawn flags and network namespace). */
  permissions: Readonly<AppPermissions>;
  /** Parent of the per-process directory; default the OS temp dir. */
  root?: string;
  /** Says, once, which protection is missing on this host and why. */
  log(message: string): void;
}

export interface WorkerCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
}

export class WorkerSandbox {
  readonly dir: string;
  readonly bundlePath: string;
  readonly scratchDir: string;
  readonly #options: SandboxOptions;
  readonly #uid: number | undefined;
  #unshare: string | undefined;

  constructor(options: SandboxOptions) {
    this.#options = options;
    const name = sandboxName(options.label, process.pid, randomBytes(6).toString("hex"));
    this.dir = path.join(options.root ?? tmpdir(), name);
    this.bundlePath = path.join(this.dir, "bundle.mjs");
    this.scratchDir = path.join(this.dir, "tmp");
    this.#uid = workerUid(process.pid);
  }

  get permissions(): Readonly<AppPermissions> {
    return this.#options.permissions;
  }

  /** Creates the directory (scratch; no bundle yet) and finds out what this host allows. */
  async prepare(): Promise<void> {
    if (this.#options.permissions.childProcess)
      this.#options.log("the app may start programs: they run outside Node's permission model");
    await mkdir(this.dir, { mode: 0o750 });
    await mkdir(this.scratchDir, { mode: 0o700 });
    // Off the start's path: what processes killed earlier left behind.
    void removeStaleSandboxes(path.dirname(this.dir)).catch(() => undefined);
    if (this.#uid === undefined) {
      this.#options.log(
        "not running as root: workers run as this process's user and share its network",
      );
      return;
    }
    await this.#handOver(this.#uid);
    this.#unshare = await this.#networkNamespace();
  }

  /**
   * Puts the process's bundle where the workers' read permission already points. Synchronous
   * (three small file operations): the workers then get LOAD, the longest step of a start,
   * before the registration and the restore running beside it take the event loop; through the
   * thread pool it waited behind them.
   */
  install(bundleSource: string): void {
    copyFileSync(bundleSource, this.bundlePath);
    chmodSync(this.bundlePath, 0o440);
    if (this.#uid !== undefined) chownSync(this.bundlePath, 0, this.#uid);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /** How to start one worker: `nodeArgs` are the worker's own (heap limit, main, argv). */
  command(nodeArgs: string[]): WorkerCommand {
    const args = [...this.#permissionFlags(), ...nodeArgs];
    const env = { TMPDIR: this.scratchDir };
    const node = { command: process.execPath, args, env, cwd: this.scratchDir };
    const uid = this.#uid;
    if (uid === undefined) return node;
    if (this.#unshare === undefined) return { ...node, uid, gid: uid };
    // unshare runs as root, enters the new namespace, drops to the worker's ids and execs node
    // (same pid, so signals and the fd-3 socket reach node directly).
    const ids = ["--setuid", String(uid), "--setgid", String(uid)];
    return {
      ...node,
      command: this.#unshare,
      args: ["-n", ...ids, "--", process.execPath, ...args],
    };
  }

  static get workerMain(): string {
    return WORKER_MAIN;
  }

  #permissionFlags(): string[] {
    const reads = [WORKER_MAIN, this.bundlePath, `${this.scratchDir}/`];
    const flags = [
      "--experimental-permission",
      // Every worker start would otherwise warn that the permission model is experimental and,
      // for an app with childProcess/workerThreads, that those weaken it (we log that once).
      "--disable-warning=ExperimentalWarning",
      "--disable-warning=SecurityWarning",
      ...reads.map((file) => `--allow-fs-read=${file}`),
      `--allow-fs-write=${this.scratchDir}/`,
    ];
    if (this.#options.permissions.childProcess) flags.push("--allow-child-process");
    if (this.#options.permissions.workerThreads) flags.push("--allow-worker");
    return flags;
  }

  /** Root keeps the directory and the bundle (group-readable); the scratch dir is the worker's. */
  async #handOver(uid: number): Promise<void> {
    await chown(this.dir, 0, uid);
    await chown(this.scratchDir, uid, uid);
  }

  async #networkNamespace(): Promise<string | undefined> {
    if (this.#options.permissions.network) return undefined;
    const unshare = await findUnshare();
    if (unshare === undefined) {
      this.#options.log("unshare (util-linux) not found: workers share this host's network");
    } else if (!(await works(unshare, ["-n", "--", unshare, "--version"]))) {
      this.#options.log("unshare -n is not permitted here: workers share this host's network");
      return undefined;
    }
    return unshare;
  }
}

async function findUnshare(): Promise<string | undefined> {
  for (const candidate of UNSHARE_CANDIDATES) {
    if (await works(candidate)) return candidate;
  }
  return undefined;
}

/** Without args: whether `file` is executable; with: whether running it succeeds. */
function works(file: string, args?: string[]): Promise<boolean> {
  if (args === undefined) return access(file, constants.X_OK).then(...settled);
  return new Promise((resolve) => execFile(file, args, { env: {} }, (error) => resolve(!error)));
}

const settled = [() => true, () => false] as const;
