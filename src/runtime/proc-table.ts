/**
 * The host's process table, from /proc (Linux): enough to name one process even when pids are
 * reused (pid + start time), see its command line, and find the members of a process group.
 * Elsewhere every read finds nothing, and callers fall back to what they know.
 */
import { readFileSync, readdirSync } from "node:fs";

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

export function allPids(): number[] {
  try {
    return readdirSync("/proc")
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && pid !== process.pid);
  } catch {
    return [];
  }
}

/** Alive and not a zombie waiting for a reaper; `startTime` (when given) must match too. */
export function isAlive(pid: number, startTime?: string): boolean {
  const stat = procStat(pid);
  if (stat === undefined || stat.state === "Z") return false;
  return startTime === undefined || stat.startTime === startTime;
}

/** Live members of these process groups (a cloud process leads the group of its workers). */
export function groupMembers(pgids: ReadonlySet<number>): ProcStat[] {
  const members: ProcStat[] = [];
  for (const pid of allPids()) {
    const stat = procStat(pid);
    if (stat !== undefined && pgids.has(stat.pgid) && stat.state !== "Z") members.push(stat);
  }
  return members;
}

/** The real uid of `pid` (what a process cannot shed without privileges), if it runs. */
export function realUid(pid: number): number | undefined {
  const line = /^Uid:\s+(\d+)/m.exec(readProc(pid, "status") ?? "");
  return line === null ? undefined : Number(line[1]);
}

/** Live processes running as `uid`. */
export function userMembers(uid: number): number[] {
  return allPids().filter((pid) => realUid(pid) === uid && procStat(pid)?.state !== "Z");
}

/** How many sweeps a process that keeps forking may survive before we give up on it. */
const USER_SWEEPS = 20;

/**
 * SIGKILLs every process running as `uid`, sweeping again until none is left (bounded), so a
 * process forking meanwhile leaves no child behind. Synchronous, as exit hooks are. Only for a
 * uid of its own that nothing else runs as (a sandbox's), never ours or root's.
 */
export function killUser(uid: number): void {
  if (uid === 0 || uid === process.getuid?.()) return;
  for (let sweep = 0; sweep < USER_SWEEPS; sweep++) {
    const members = userMembers(uid);
    if (members.length === 0) return;
    for (const pid of members) killQuietly(pid);
  }
}

/** Signals `pid` (a negative one: its group), ignoring a process that is already gone. */
export function killQuietly(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: gone already.
  }
}

/**
 * SIGKILLs every other member of this process's group, when it leads one: called on exit, so
 * that nothing it started (a worker stuck in a loop, a child a function spawned) outlives it,
 * even when the parent that would have killed the group is gone. Synchronous, as exit hooks are.
 */
export function killOwnGroup(): void {
  if (procStat(process.pid)?.pgid !== process.pid) return;
  for (const member of groupMembers(new Set([process.pid]))) killQuietly(member.pid);
}
