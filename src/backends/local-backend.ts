/**
 * The local backend: each cloud process is a child process of the control plane on this host,
 * on a free port, with `vcpus` workers and `memory` MiB split into the workers' heap limits.
 * Bundles are cached as files under `<dataDir>/bundles` (bundle-cache.ts). Children are stopped on `stop` and on
 * `shutdown`, so stopping the control plane leaves no orphans. Each child leads a process group
 * of its own (see launch.ts): a Ctrl-C meant for the control plane does not reach it, and when
 * it exits, for any reason, its whole group (workers, whatever its functions started) is killed.
 * `stop` sends SIGTERM first, on which a process with a control link swaps its state out.
 * A process with durability `log` keeps its write-ahead log at `<dataDir>/wal/<app>/<name>.wal`
 * (owner-only directories), on this host's disk like the disk blob store.
 * Processes that outlived an earlier control plane and re-registered here are adopted: stopped
 * by pid, watched until they end, and their group swept then (see local-pids.ts).
 *
 * Every process outside a network namespace starts in a warm slot (`WarmRuntime`, runtime/launch.ts): taken from the warm
 * pool when one fits (warm-pool.ts), else started for it on the spot; either way it is then
 * assigned the same command line and environment, so both end up the same.
 */
import type { ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import path from "node:path";
import { PraaSError } from "../protocol/index.js";
import type { BlobStoreConfig } from "../storage/index.js";
import {
  launchProcess,
  terminate,
  WarmRuntime,
  type LaunchedProcess,
  type RuntimeOptions,
  type SlotLaunchOptions,
} from "../runtime/launch.js";
import { isAlive } from "../runtime/proc-table.js";
import { keptTails } from "../runtime/wal.js";
import {
  isOurProcess,
  localBackendId,
  parseLocalBackendId,
  stopByPid,
  sweepGroup,
  type PidRef,
} from "./local-pids.js";
import {
  launchOptionsOf,
  workersFor,
  type ExitInfo,
  type ProcessBackend,
  type ProcessSpec,
  type StartedProcess,
} from "./backend.js";
import { BundleCache } from "./bundle-cache.js";
import { WarmPool, type WarmPoolStats } from "./warm-pool.js";

export interface LocalBackendOptions {
  dataDir: string;
  /** Where processes store swapped state (handed to each process). */
  blobs: BlobStoreConfig;
  /** Address processes listen on and advertise; default 127.0.0.1. */
  host?: string;
  logLevel?: string;
  /**
   * Named network namespaces to start processes in (with nsenter; root only), e.g. private
   * networks behind NAT; each new process goes to the one running the fewest. Default: ours.
   */
  netns?: readonly string[] | undefined;
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
  netns: string | undefined;
  child: ChildProcess;
  exited: Promise<number | null>;
}

interface Adopted {
  ref: PidRef;
  app: string;
  name: string;
  watch: NodeJS.Timeout;
}

/** How often an adopted process (not our child: no exit event) is checked for its end. */
const ADOPTED_POLL_MS = 1000;

export class LocalBackend implements ProcessBackend {
  readonly kind = "local";
  readonly #options: LocalBackendOptions;
  readonly #children = new Map<string, Child>();
  readonly #adopted = new Map<string, Adopted>();
  readonly #listeners: ((exit: ExitInfo) => void)[] = [];
  readonly #bundles: BundleCache;
  readonly #pool: WarmPool | undefined;

  constructor(options: LocalBackendOptions) {
    if ((options.netns?.length ?? 0) > 0 && process.getuid?.() !== 0)
      throw new PraaSError("BAD_REQUEST", "starting processes in a network namespace needs root");
    this.#options = options;
    this.#bundles = new BundleCache(path.join(options.dataDir, "bundles"));
    this.#pool = this.#createPool();
  }

  /** The warm pool's counters; undefined when it is off. */
  warmPool(): WarmPoolStats | undefined {
    return this.#pool?.stats;
  }

  async start(spec: ProcessSpec): Promise<StartedProcess> {
    const bundlePath = await this.#bundles.file(spec);
    const netns = this.#leastUsedNamespace();
    const options = {
      ...(netns === undefined ? {} : { netns }),
      ...launchOptionsOf(spec),
      bundlePath,
      blobs: this.#options.blobs,
      ...this.#addresses(netns),
      ...this.#durability(spec),
      logLevel: this.#options.logLevel ?? "warn",
    };
    const launched = await this.#launch(options);
    const backendId = localBackendId(launched.child.pid ?? 0);
    this.#track(backendId, { spec, netns, child: launched.child, exited: launched.exited });
    return { backendId, host: launched.host, port: launched.port };
  }

  /** In a warm slot (pooled runtimes live in our namespace); in a namespace, started on the spot. */
  async #launch(options: RuntimeOptions & { bundlePath: string }): Promise<LaunchedProcess> {
    if (options.netns !== undefined) return launchProcess(options);
    const slot = this.#slotOf(options);
    const runtime = this.#pool?.take(slot) ?? (await WarmRuntime.start(slot));
    return runtime.assign(options).finally(() => this.#pool?.refillSoon());
  }

  /**
   * Inside a namespace of its own the process is reached only through the rendezvous (its
   * private address means nothing here): it listens on that namespace's loopback.
   */
  #addresses(netns: string | undefined): { host: string; advertiseHost: string } {
    const host = netns === undefined ? (this.#options.host ?? "127.0.0.1") : "127.0.0.1";
    return { host, advertiseHost: host };
  }

  /** The configured namespace running the fewest of our processes (ties: the first listed). */
  #leastUsedNamespace(): string | undefined {
    const namespaces = this.#options.netns ?? [];
    const load = (ns: string): number =>
      [...this.#children.values()].filter((child) => child.netns === ns).length;
    return [...namespaces].sort((a, b) => load(a) - load(b))[0];
  }

  async stop(backendId: string, graceMs = 5000): Promise<void> {
    const entry = this.#children.get(backendId);
    if (entry === undefined) return this.#stopByPid(backendId, graceMs);
    await terminate(entry.child, entry.exited, graceMs);
  }

  /** Not a child of ours (an earlier control plane started it): by pid, if it is still ours. */
  async #stopByPid(backendId: string, graceMs: number): Promise<void> {
    const ref = parseLocalBackendId(backendId);
    if (ref === undefined) return;
    await stopByPid(ref, graceMs);
    this.#ended(backendId);
  }

  /** A process an earlier control plane started re-registered here: watch it until it ends. */
  adoptReconnected(backendId: string, app: string, name: string): void {
    const ref = parseLocalBackendId(backendId);
    if (this.#children.has(backendId) || this.#adopted.has(backendId)) return;
    if (ref === undefined || !isOurProcess(ref)) return;
    const watch = setInterval(() => {
      if (!isAlive(ref.pid, ref.startTime)) this.#ended(backendId);
    }, ADOPTED_POLL_MS);
    watch.unref();
    this.#adopted.set(backendId, { ref, app, name, watch });
  }

  /** An adopted process ended: nothing of its group may live on, and listeners hear of it. */
  #ended(backendId: string): void {
    const adopted = this.#adopted.get(backendId);
    if (adopted === undefined) return;
    clearInterval(adopted.watch);
    this.#adopted.delete(backendId);
    sweepGroup(adopted.ref.pid);
    this.#report({ backendId, app: adopted.app, name: adopted.name, code: null, signal: null });
  }

  async deleteLog(app: string, name: string): Promise<void> {
    const log = this.#walPath(app, name);
    // The claim file is left by a killed process, torn tails were kept by its starts; all go at
    // once (a create waits for them).
    const files = [log, `${log}.owner`, ...(await keptTails(log))];
    await Promise.all(files.map((file) => rm(file, { force: true })));
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
    return [...this.#children.keys(), ...this.#adopted.keys()];
  }

  async shutdown(keep: ReadonlySet<string> = new Set()): Promise<void> {
    for (const backendId of keep) this.#letGo(backendId);
    await Promise.all([this.#pool?.close(), ...this.running().map((id) => this.stop(id))]);
  }

  /** Forgets a process without stopping it: nothing of ours holds it open or waits for it. */
  #letGo(backendId: string): void {
    const entry = this.#children.get(backendId);
    this.#children.delete(backendId);
    entry?.child.stdout?.destroy(); // its status lines, which nobody reads any more
    entry?.child.unref();
    const adopted = this.#adopted.get(backendId);
    if (adopted !== undefined) clearInterval(adopted.watch);
    this.#adopted.delete(backendId);
  }

  #createPool(): WarmPool | undefined {
    const pool = this.#options.warmPool;
    const inNamespaces = (this.#options.netns?.length ?? 0) > 0;
    if (pool === undefined || pool.size === 0 || inNamespaces) return undefined;
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
      owner: path.resolve(this.#options.dataDir),
    };
  }

  #track(backendId: string, entry: Child): void {
    this.#children.set(backendId, entry);
    entry.child.once("exit", (code, signal) => {
      this.#children.delete(backendId);
      this.#report({ backendId, app: entry.spec.app, name: entry.spec.name, code, signal });
    });
  }

  #report(exit: ExitInfo): void {
    for (const listener of this.#listeners) listener(exit);
  }
}
