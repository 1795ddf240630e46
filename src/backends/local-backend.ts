/**
 * The local backend: each cloud process is a child process of the control plane on this host,
 * on a free port, with `vcpus` workers and `memory` MiB split into the workers' heap limits.
 * Bundles are cached as files under `<dataDir>/bundles` by bundle key; keys name the bundle's
 * content (its sha256, see AppService), so a cached file is always the code asked for, even
 * when an app is removed and deployed again. Children are stopped on `stop` and on
 * `shutdown`, so stopping the control plane leaves no orphans. Each child leads a process group
 * of its own (see launch.ts): a Ctrl-C meant for the control plane does not reach it, and when
 * it exits, for any reason, its whole group (workers, whatever its functions started) is killed.
 * `stop` sends SIGTERM first, on which a process with a control link swaps its state out.
 * A process with durability `log` keeps its write-ahead log at `<dataDir>/wal/<app>/<name>.wal`
 * (owner-only directories), on this host's disk like the disk blob store.
 *
 * Every process starts in a warm slot (`WarmRuntime`, runtime/launch.ts): taken from the warm
 * pool when one fits (warm-pool.ts), else started for it on the spot; either way it is then
 * assigned the same command line and environment, so both end up the same.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { BlobStoreConfig } from "../storage/index.js";
import { WarmRuntime, type SlotLaunchOptions } from "../runtime/launch.js";
import {
  launchOptionsOf,
  workersFor,
  type ExitInfo,
  type ProcessBackend,
  type ProcessSpec,
  type StartedProcess,
} from "./backend.js";
import { WarmPool, type WarmPoolStats } from "./warm-pool.js";

export interface LocalBackendOptions {
  dataDir: string;
  /** Where processes store swapped state (handed to each process). */
  blobs: BlobStoreConfig;
  /** Address processes listen on and advertise; default 127.0.0.1. */
  host?: string;
  logLevel?: string;
  /**
   * Runtimes kept started for processes of this class (default: none); `size` 0 is off.
   * `maxPayloadBytes` must be the one processes are started with to fit.
   */
  warmPool?: { size: number; vcpus: number; memoryMiB: number; maxPayloadBytes: number };
  /** Reports events worth a log line (e.g. a warm-pool member that failed to start). */
  log?(message: string, fields?: Record<string, unknown>): void;
}

interface Child {
  spec: ProcessSpec;
  child: ChildProcess;
  exited: Promise<number | null>;
}

export class LocalBackend implements ProcessBackend {
  readonly kind = "local";
  readonly #options: LocalBackendOptions;
  readonly #children = new Map<string, Child>();
  readonly #listeners: ((exit: ExitInfo) => void)[] = [];
  readonly #bundles = new Map<string, Promise<string>>();
  readonly #pool: WarmPool | undefined;

  constructor(options: LocalBackendOptions) {
    this.#options = options;
    this.#pool = this.#createPool();
  }

  /** The warm pool's counters; undefined when it is off. */
  warmPool(): WarmPoolStats | undefined {
    return this.#pool?.stats;
  }

  async start(spec: ProcessSpec): Promise<StartedProcess> {
    const bundlePath = await this.#bundleFile(spec);
    const options = {
      ...launchOptionsOf(spec),
      bundlePath,
      blobs: this.#options.blobs,
      host: this.#options.host ?? "127.0.0.1",
      advertiseHost: this.#options.host ?? "127.0.0.1",
      ...this.#durability(spec),
      logLevel: this.#options.logLevel ?? "warn",
    };
    const slot = this.#slotOf(options);
    const runtime = this.#pool?.take(slot) ?? (await WarmRuntime.start(slot));
    const launched = await runtime.assign(options).finally(() => this.#pool?.refill());
    const backendId = `local:${launched.child.pid}`;
    this.#track(backendId, { spec, child: launched.child, exited: launched.exited });
    return { backendId, host: launched.host, port: launched.port };
  }

  async stop(backendId: string, graceMs = 5000): Promise<void> {
    const entry = this.#children.get(backendId);
    if (entry === undefined || entry.child.exitCode !== null || entry.child.signalCode !== null)
      return;
    entry.child.kill("SIGTERM");
    const timer = setTimeout(() => entry.child.kill("SIGKILL"), graceMs);
    await entry.exited;
    clearTimeout(timer);
  }

  async deleteLog(app: string, name: string): Promise<void> {
    await rm(this.#walPath(app, name), { force: true });
  }

  #durability(spec: ProcessSpec): { durability?: "log"; walPath?: string } {
    if (spec.durability !== "log") return {};
    return { durability: "log", walPath: this.#walPath(spec.app, spec.name) };
  }

  #walPath(app: string, name: string): string {
    return path.join(this.#options.dataDir, "wal", app, `${name}.wal`);
  }

  onExit(listener: (exit: ExitInfo) => void): void {
    this.#listeners.push(listener);
  }

  running(): string[] {
    return [...this.#children.keys()];
  }

  async shutdown(): Promise<void> {
    await Promise.all([this.#pool?.close(), ...this.running().map((id) => this.stop(id))]);
  }

  #createPool(): WarmPool | undefined {
    const pool = this.#options.warmPool;
    if (pool === undefined || pool.size === 0) return undefined;
    const { vcpus, ...rest } = pool;
    return new WarmPool({
      size: pool.size,
      slot: { ...this.#slotOf({ ...rest, workers: workersFor(vcpus) }), permissions: {} },
      log: (message, fields) => this.#options.log?.(message, fields),
    });
  }

  #slotOf(o: {
    workers?: number;
    memoryMiB?: number;
    maxPayloadBytes?: number;
    permissions?: SlotLaunchOptions["permissions"];
  }): SlotLaunchOptions {
    return {
      workers: o.workers ?? 1,
      memoryMiB: o.memoryMiB ?? 512,
      maxPayloadBytes: o.maxPayloadBytes ?? 64 * 1024 * 1024,
      ...(o.permissions ? { permissions: o.permissions } : {}),
      logLevel: this.#options.logLevel ?? "warn",
    };
  }

  #track(backendId: string, entry: Child): void {
    this.#children.set(backendId, entry);
    entry.child.once("exit", (code, signal) => {
      this.#children.delete(backendId);
      const exit = { backendId, app: entry.spec.app, name: entry.spec.name, code, signal };
      for (const listener of this.#listeners) listener(exit);
    });
  }

  /** The bundle as a local file, written once per bundle key (concurrent starts share the write). */
  #bundleFile(spec: ProcessSpec): Promise<string> {
    let file = this.#bundles.get(spec.bundleKey);
    if (!file) {
      file = this.#writeBundle(spec);
      this.#bundles.set(spec.bundleKey, file);
      file.catch(() => this.#bundles.delete(spec.bundleKey));
    }
    return file;
  }

  async #writeBundle(spec: ProcessSpec): Promise<string> {
    const file = path.join(this.#options.dataDir, "bundles", spec.bundleKey.replaceAll("/", "_"));
    if (await exists(file)) return file;
    // Owner-only: a process copies its bundle into its workers' sandbox; workers read no others.
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    await writeFile(temp, await spec.loadBundle());
    await rename(temp, file);
    return file;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
