/**
 * Holds a cloud process and its workers to the process's `memory` limit, off-heap memory
 * included (a V8 heap limit alone lets a function grow Buffers without bound).
 *
 * Two layers:
 * - a watchdog that sums the anonymous resident memory of the process and its workers every
 *   `intervalMs` and kills the biggest worker when the sum passes the limit;
 * - a memory cgroup (v1 or v2) created for this process under the cgroup it was started in;
 *   the process moves itself in before it spawns workers, so they inherit it. Its kernel limit
 *   sits above `memory` (see kernelLimitBytes): a hard stop for a worker that allocates faster
 *   than the watchdog looks, never reached by the process's own memory alone.
 *
 * Workers get the highest OOM score, so when the kernel must kill, it kills a worker. With the
 * kernel limit at `memory` itself, a process whose own memory spiked (its state near the
 * limit, plus a listing of it) was killed right after its worker, and its state with it.
 */
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";

export type MemoryGuardMode = "auto" | "watchdog" | "off";

export interface MemoryGuardOptions {
  limitMiB: number;
  mode: MemoryGuardMode;
  /** Names this process's cgroup, e.g. `app.name.pid`. */
  label: string;
  /** Watchdog period; default 200 ms. */
  intervalMs?: number;
  /** The worker pids to watch, asked at every tick. */
  workerPids(): number[];
  /**
   * A cgroup made ahead (by a warm slot, runtime/warm-slot.ts) that holds this process and its
   * workers already: "auto" sets its limit at start instead of creating one; other modes
   * remove it.
   */
  cgroup?: Cgroup | undefined;
  log(message: string, fields?: Record<string, unknown>): void;
}

/** What a worker handle asks when its worker died. */
export interface MemoryVerdict {
  readonly limitMiB: number;
  /**
   * Puts `pid` in the process's cgroup (a worker started before its process, in a warm pool)
   * and makes it the first victim of the kernel's OOM killer.
   */
  adopt(pid: number): void;
  /** Whether the worker `pid`, just died of SIGKILL, was killed for passing the limit. */
  killedForMemory(pid: number): boolean;
}

const MIB = 1024 * 1024;
const PAGE_BYTES = 4096;
const CGROUP_ROOT = "/sys/fs/cgroup";

/**
 * The cgroup's limit for a process of `memoryMiB`: half as much again, at least 64 MiB more.
 * The watchdog holds the process to `memoryMiB`; the kernel stops what outruns it, and the
 * room above leaves the process itself (state of up to half of `memory`, and what it
 * allocates for a moment beside it) out of reach of the kernel's OOM killer.
 */
export function kernelLimitBytes(memoryMiB: number): number {
  return (memoryMiB + Math.max(64, Math.ceil(memoryMiB / 2))) * MIB;
}

export class MemoryGuard implements MemoryVerdict {
  readonly limitMiB: number;
  readonly #options: MemoryGuardOptions;
  readonly #killedByWatchdog = new Set<number>();
  #cgroup: Cgroup | undefined;
  #oomKillsSeen = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryGuardOptions) {
    this.#options = options;
    this.limitMiB = options.limitMiB;
  }

  /** Which layers are on: for the start-up log line. */
  get enforcement(): string {
    if (this.#options.mode === "off") return "off";
    return this.#cgroup ? `cgroup ${this.#cgroup.dir} + watchdog` : "watchdog";
  }

  /** Call before spawning workers, so they start inside the cgroup. */
  start(): void {
    const made = this.#options.cgroup;
    if (this.#options.mode !== "auto") made?.remove();
    if (this.#options.mode === "off") return;
    if (this.#options.mode === "auto")
      this.#cgroup = made ? this.#limited(made) : this.#openCgroup();
    this.#timer = setInterval(() => this.#tick(), this.#options.intervalMs ?? 200);
    this.#timer.unref();
  }

  /** Stops the watchdog and removes the cgroup (once the workers are gone). */
  stop(): void {
    clearInterval(this.#timer);
    this.#cgroup?.remove();
    this.#cgroup = undefined;
  }

  adopt(pid: number): void {
    if (this.#options.mode === "off") return;
    // Workers spawned after start() are in already, and so are a warm slot's (spawned once its
    // cgroup was made): enroll moves only a worker that is not.
    if (this.#cgroup) ignoreErrors(() => this.#cgroup?.enroll(pid));
    ignoreErrors(() => writeFileSync(`/proc/${pid}/oom_score_adj`, "1000"));
  }

  killedForMemory(pid: number): boolean {
    if (this.#killedByWatchdog.delete(pid)) return true;
    const kills = this.#cgroup?.oomKills() ?? 0;
    if (kills <= this.#oomKillsSeen) return false;
    this.#oomKillsSeen++;
    return true;
  }

  #limited(cgroup: Cgroup): Cgroup | undefined {
    try {
      cgroup.limit(kernelLimitBytes(this.limitMiB));
      return cgroup;
    } catch (error) {
      cgroup.remove();
      this.#options.log("cannot limit the memory cgroup; the watchdog alone enforces the limit", {
        reason: String(error),
      });
      return undefined;
    }
  }

  #openCgroup(): Cgroup | undefined {
    try {
      return Cgroup.create(this.#options.label, kernelLimitBytes(this.limitMiB));
    } catch (error) {
      this.#options.log("no memory cgroup; the watchdog alone enforces the memory limit", {
        reason: String(error),
      });
      return undefined;
    }
  }

  #tick(): void {
    const workers = this.#options.workerPids().map((pid) => ({ pid, bytes: anonBytes(pid) }));
    const total = workers.reduce((sum, w) => sum + w.bytes, anonBytes(process.pid));
    if (total <= this.limitMiB * MIB) return;
    const biggest = workers.reduce<(typeof workers)[number] | undefined>(
      (best, w) => (best === undefined || w.bytes > best.bytes ? w : best),
      undefined,
    );
    if (biggest === undefined) return;
    this.#killedByWatchdog.add(biggest.pid);
    this.#options.log("memory limit passed; killing the biggest worker", {
      limitMiB: this.limitMiB,
      totalMiB: Math.round(total / MIB),
      workerPid: biggest.pid,
    });
    ignoreErrors(() => process.kill(biggest.pid, "SIGKILL"));
  }
}

/** Resident memory that is not file-backed: what the process itself allocated. */
function anonBytes(pid: number): number {
  try {
    const [, resident = 0, shared = 0] = readFileSync(`/proc/${pid}/statm`, "utf8")
      .split(" ")
      .map(Number);
    return (resident - shared) * PAGE_BYTES;
  } catch {
    return 0;
  }
}

function ignoreErrors(action: () => void): void {
  try {
    action();
  } catch {
    // best effort: the process may be gone, or the file not writable here
  }
}

/**
 * A memory cgroup for this process made ahead of its limit (a warm slot, before it spawns its
 * workers, so they and all they allocate are in it); undefined where cgroups are not usable.
 */
export function cgroupAhead(label: string, limitBytes: number): Cgroup | undefined {
  try {
    return Cgroup.create(label, limitBytes);
  } catch {
    return undefined; // the process's MemoryGuard says so when it starts
  }
}

/** One memory cgroup holding this process and its workers. */
export class Cgroup {
  private constructor(
    readonly dir: string,
    readonly parent: string,
    readonly v2: boolean,
  ) {}

  /** Creates `<current cgroup>/praas/<label>` with `limitBytes`, and moves this process in. */
  static create(label: string, limitBytes: number): Cgroup {
    const v2 = existsSync(path.join(CGROUP_ROOT, "cgroup.controllers"));
    const parent = currentCgroupDir(v2);
    const group = path.join(parent, "praas");
    if (v2) enableMemoryController(parent);
    mkdirSync(group, { recursive: true });
    if (v2) enableMemoryController(group);
    sweepEmpty(group);
    const dir = path.join(group, label);
    mkdirSync(dir, { recursive: true });
    const cgroup = new Cgroup(dir, parent, v2);
    cgroup.limit(limitBytes);
    writeFileSync(path.join(dir, "cgroup.procs"), String(process.pid));
    return cgroup;
  }

  /**
   * Moves `pid` in, unless it is in already: a write to cgroup.procs waits for an RCU grace
   * period (about 10 ms) even when it moves nothing, and a warm slot's workers were born here.
   */
  enroll(pid: number): void {
    if (cgroupDirOf(pid, this.v2) === this.dir) return;
    writeFileSync(path.join(this.dir, "cgroup.procs"), String(pid));
  }

  oomKills(): number {
    const file = this.v2 ? "memory.events" : "memory.oom_control";
    try {
      const match = /oom_kill (\d+)/.exec(readFileSync(path.join(this.dir, file), "utf8"));
      return Number(match?.[1] ?? 0);
    } catch {
      return 0;
    }
  }

  /** Moves this process back to where it started and removes the (then empty) cgroup. */
  remove(): void {
    ignoreErrors(() => writeFileSync(path.join(this.parent, "cgroup.procs"), String(process.pid)));
    ignoreErrors(() => rmdirSync(this.dir));
    ignoreErrors(() => rmdirSync(path.dirname(this.dir))); // only goes when no other process uses it
  }

  limit(bytes: number): void {
    if (this.v2) {
      writeFileSync(path.join(this.dir, "memory.max"), String(bytes));
      ignoreErrors(() => writeFileSync(path.join(this.dir, "memory.swap.max"), "0"));
    } else {
      writeFileSync(path.join(this.dir, "memory.limit_in_bytes"), String(bytes));
      ignoreErrors(() =>
        writeFileSync(path.join(this.dir, "memory.memsw.limit_in_bytes"), String(bytes)),
      );
    }
  }
}

/** The directory of the memory cgroup this process runs in (from /proc/self/cgroup). */
function currentCgroupDir(v2: boolean): string {
  return cgroupDirOf("self", v2);
}

/** The memory cgroup directory `pid` is in. */
function cgroupDirOf(pid: number | "self", v2: boolean): string {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n")) {
    const [, controllers = "", where = ""] = line.split(":");
    if (v2 ? line.startsWith("0::") : controllers.split(",").includes("memory")) {
      return path.join(CGROUP_ROOT, v2 ? "" : "memory", where);
    }
  }
  throw new Error(`process ${pid} is in no memory cgroup`);
}

function enableMemoryController(dir: string): void {
  const control = path.join(dir, "cgroup.subtree_control");
  if (!readFileSync(control, "utf8").includes("memory")) writeFileSync(control, "+memory");
}

/** Removes cgroups left behind by processes that were killed before they could clean up. */
function sweepEmpty(group: string): void {
  for (const entry of readdirSync(group, { withFileTypes: true })) {
    const owner = Number(entry.name.slice(entry.name.lastIndexOf(".") + 1));
    if (entry.isDirectory() && !isAlive(owner)) {
      ignoreErrors(() => rmdirSync(path.join(group, entry.name)));
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
