/**
 * The deployment under test: a redis-server (append-only file, so a restart keeps the metadata)
 * and a real `praas up` subprocess on fixed loopback ports with a disk blob store, which the
 * faults kill, restart and starve of disk. When root, the data dir is a small tmpfs that can
 * really fill up.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { freePort, startRedis, type RedisServer } from "../bench/redis.js";

const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 60_000;
const DATA_DISK_MIB = 96;

export interface DeploymentOptions {
  env: Readonly<NodeJS.ProcessEnv>;
  /** `praas up --invocation-timeout` and `--start-timeout`: how long any request may wait. */
  invocationTimeoutMs: number;
  /** Log what praas up writes to stderr (warnings and worse). */
  onLog: (line: string) => void;
  /** The control plane exited without being told to: a crash the soak found. */
  onCrash: (detail: string) => void;
}

interface Dirs {
  root: string;
  data: string;
  redis: string;
  /** The data dir is a tmpfs mounted by us. */
  mounted: boolean;
}

export class Deployment {
  readonly url: string;
  readonly controlAddress: string;
  readonly dataDir: string;
  readonly diskCanFill: boolean;
  #redis: RedisServer;
  #controlPlane: ChildProcess;
  #exited: Promise<void>;
  #stopping = false;
  readonly #dirs: Dirs;
  readonly #port: number;
  readonly #options: DeploymentOptions;

  private constructor(
    options: DeploymentOptions,
    dirs: Dirs,
    port: number,
    redis: RedisServer,
    up: RunningUp,
  ) {
    this.#options = options;
    this.#dirs = dirs;
    this.#port = port;
    this.#redis = redis;
    this.#controlPlane = up.child;
    this.#exited = up.exited;
    this.#adopt(up);
    this.url = `http://127.0.0.1:${port}`;
    this.controlAddress = `127.0.0.1:${port + 1}`;
    this.dataDir = dirs.data;
    this.diskCanFill = dirs.mounted;
  }

  static async start(options: DeploymentOptions): Promise<Deployment> {
    const dirs = await makeDirs();
    let redis: RedisServer | undefined;
    try {
      redis = await startRedis({ dir: dirs.redis });
      const port = await freePortPair();
      const up = await startUp(port, dirs.data, redis.url, options);
      return new Deployment(options, dirs, port, redis, up);
    } catch (error) {
      await redis?.stop();
      await removeDirs(dirs);
      throw error;
    }
  }

  get controlPlanePid(): number | undefined {
    return this.#controlPlane.exitCode === null ? this.#controlPlane.pid : undefined;
  }

  /** SIGKILL of the control plane, then a new one on the same ports, data dir and Redis. */
  async killAndRestartControlPlane(): Promise<void> {
    this.#stopping = true;
    this.#controlPlane.kill("SIGKILL");
    await this.#exited;
    this.#stopping = false;
    const up = await startUp(this.#port, this.#dirs.data, this.#redis.url, this.#options);
    this.#adopt(up);
  }

  #adopt(up: RunningUp): void {
    this.#controlPlane = up.child;
    this.#exited = up.exited;
    up.child.once("exit", (code, signal) => {
      if (!this.#stopping) this.#options.onCrash(`praas up exited by itself (${code ?? signal})`);
    });
  }

  /** Stops Redis (SIGTERM) and starts it again on the same port with the same append-only file. */
  async restartRedis(): Promise<void> {
    await this.#redis.stop();
    this.#redis = await startRedis({ port: this.#redis.port, dir: this.#dirs.redis });
  }

  /** SIGTERM (a clean stop swaps every process out), SIGKILL after a bound; then Redis, dirs. */
  async stop(): Promise<void> {
    try {
      await this.#stopControlPlane();
    } finally {
      await this.#redis.stop();
      await removeDirs(this.#dirs);
    }
  }

  async #stopControlPlane(): Promise<void> {
    this.#stopping = true;
    if (this.#controlPlane.exitCode !== null || this.#controlPlane.signalCode !== null) return;
    this.#controlPlane.kill("SIGTERM");
    const timer = setTimeout(() => this.#controlPlane.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }
}

async function makeDirs(): Promise<Dirs> {
  const root = await mkdtemp(path.join(tmpdir(), "praas-soak-"));
  const data = path.join(root, "data");
  const dirs = { root, data, redis: path.join(root, "redis"), mounted: false };
  execFileSync("mkdir", ["-p", data, dirs.redis]);
  dirs.mounted = mountSmallDisk(data);
  return dirs;
}

/** A tmpfs for the data dir, so that "the blob directory is full" is real; root only. */
function mountSmallDisk(dir: string): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${DATA_DISK_MIB}m`, "tmpfs", dir], {
      stdio: "pipe",
    });
    return true;
  } catch {
    return false;
  }
}

async function removeDirs(dirs: Dirs): Promise<void> {
  if (dirs.mounted) execFileSync("umount", ["-l", dirs.data], { stdio: "pipe" });
  await rm(dirs.root, { recursive: true, force: true });
}

/** An HTTP port whose successor (the default control port) is free as well. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    if (port < 65_535 && (await isFree(port + 1))) return port;
  }
  throw new Error("no free pair of loopback ports found");
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

interface RunningUp {
  child: ChildProcess;
  exited: Promise<void>;
}

async function startUp(
  port: number,
  dataDir: string,
  redisUrl: string,
  options: DeploymentOptions,
): Promise<RunningUp> {
  const args = [CLI, "up", "--port", String(port), "--json", "--log-level", "warn"];
  args.push("--data-dir", dataDir, "--redis", redisUrl, "--reconnect-grace", "5000");
  // Processes under a soak must stay where the fault schedule put them, not swap out idle.
  args.push("--idle-swap", "0");
  const timeout = String(options.invocationTimeoutMs);
  args.push("--invocation-timeout", timeout, "--start-timeout", timeout);
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...options.env },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  createInterface({ input: child.stderr }).on("line", options.onLog);
  try {
    await listening(child);
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    throw error;
  }
  return { child, exited };
}

function listening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`praas up did not start in ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    createInterface({ input: child.stdout! }).once("line", () => {
      clearTimeout(timer);
      resolve();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`praas up exited with ${code} before listening`));
    });
  });
}
