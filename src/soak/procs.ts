/**
 * What runs, from /proc (Linux): the cloud processes of one deployment (found by the control
 * address in their command line), their workers (their process group), resident memory, and
 * which of the processes seen during the run still live after shutdown (leaks).
 */
import { readFileSync, readdirSync } from "node:fs";

const PAGE_BYTES = 4096;

export interface ProcStat {
  pid: number;
  state: string;
  pgid: number;
  /** Start time in clock ticks since boot: with the pid, names one process even if pids are reused. */
  startTime: string;
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "latin1");
  } catch {
    return undefined;
  }
}

export function procStat(pid: number): ProcStat | undefined {
  const text = readProc(pid, "stat");
  if (text === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: split after its last ")".
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, state: rest[0] ?? "?", pgid: Number(rest[2]), startTime: rest[19] ?? "" };
}

export function commandLine(pid: number): string[] {
  return (readProc(pid, "cmdline") ?? "").split("\0").filter((arg) => arg !== "");
}

export function residentBytes(pid: number): number {
  const statm = readProc(pid, "statm");
  return statm === undefined ? 0 : Number(statm.split(" ")[1]) * PAGE_BYTES;
}

export function allPids(): number[] {
  return readdirSync("/proc")
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid !== process.pid);
}

/** Alive and not a zombie waiting for a reaper. */
export function isAlive(pid: number, startTime: string): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== "Z";
}

function argAfter(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index < 0 ? undefined : args[index + 1];
}

export interface CloudProcessPid {
  name: string;
  pid: number;
}

/** The cloud processes of application `app` that dial the control plane at `control`. */
export function cloudProcesses(app: string, control: string): CloudProcessPid[] {
  const found: CloudProcessPid[] = [];
  for (const pid of allPids()) {
    const args = commandLine(pid);
    if (!args.some((arg) => arg.endsWith("runtime/main.js"))) continue;
    if (argAfter(args, "--app") !== app || argAfter(args, "--control") !== control) continue;
    const name = argAfter(args, "--name");
    if (name !== undefined && procStat(pid)?.state !== "Z") found.push({ name, pid });
  }
  return found;
}

/** Members of these process groups (a cloud process leads the group of its workers). */
export function groupMembers(pgids: ReadonlySet<number>): ProcStat[] {
  const members: ProcStat[] = [];
  for (const pid of allPids()) {
    const stat = procStat(pid);
    if (stat !== undefined && pgids.has(stat.pgid) && stat.state !== "Z") members.push(stat);
  }
  return members;
}

export interface TrackedProcess {
  pid: number;
  startTime: string;
  what: string;
}

/** Every process seen as part of the deployment; after shutdown, those still alive leaked. */
export class ProcessRegistry {
  readonly #seen = new Map<string, TrackedProcess>();

  track(pid: number, what: string): void {
    const stat = procStat(pid);
    if (stat === undefined) return;
    const key = `${pid}:${stat.startTime}`;
    if (!this.#seen.has(key)) this.#seen.set(key, { pid, startTime: stat.startTime, what });
  }

  get size(): number {
    return this.#seen.size;
  }

  alive(): TrackedProcess[] {
    return [...this.#seen.values()].filter((proc) => isAlive(proc.pid, proc.startTime));
  }
}
