/**
 * Cloud processes of the local backend known only by their pid: ones an earlier control plane
 * on this host started, which outlived it (a SIGKILL, a crash) and re-registered with this one,
 * or whose record still names them. A backend id `local:<pid>@<start time>` names one process
 * even when the pid is reused later; a process counts as ours only while it still runs our
 * runtime. Linux only (/proc); elsewhere such a process is left to its orphan timeout.
 */
import path from "node:path";
import { RUNTIME_MAIN } from "../runtime/launch.js";
import {
  commandLine,
  groupMembers,
  isAlive,
  killQuietly,
  procStat,
} from "../runtime/proc-table.js";
import { killWorkerUser } from "../runtime/worker-sandbox.js";

const RUNTIME_DIR = path.dirname(RUNTIME_MAIN);
const POLL_MS = 50;
const KILL_WAIT_MS = 2000;

export interface PidRef {
  pid: number;
  /** Absent in ids written before start times were recorded (or off Linux). */
  startTime?: string;
}

export function localBackendId(pid: number): string {
  const startTime = procStat(pid)?.startTime;
  return startTime ? `local:${pid}@${startTime}` : `local:${pid}`;
}

export function parseLocalBackendId(backendId: string): PidRef | undefined {
  const match = /^local:(\d+)(?:@(\d+))?$/.exec(backendId);
  if (match === null) return undefined;
  const pid = Number(match[1]);
  return match[2] === undefined ? { pid } : { pid, startTime: match[2] };
}

/** Still that very process, running our runtime. */
export function isOurProcess(ref: PidRef): boolean {
  return isAlive(ref.pid, ref.startTime) && commandLine(ref.pid).includes(RUNTIME_MAIN);
}

/** SIGTERM (on which it swaps its state out), SIGKILL after `graceMs`, then what is left of its group. */
export async function stopByPid(ref: PidRef, graceMs: number): Promise<void> {
  if (isOurProcess(ref)) {
    killQuietly(ref.pid, "SIGTERM");
    if (!(await gone(ref, graceMs))) {
      killQuietly(ref.pid);
      await gone(ref, KILL_WAIT_MS);
    }
  }
  sweepGroup(ref.pid);
}

/**
 * Once a process we did not spawn is gone, nobody else kills its group (its parent, which
 * would, is gone): its workers and what its functions started. Only a group that still holds
 * one of our runtime's processes is touched.
 */
export function sweepGroup(pgid: number): void {
  const members = groupMembers(new Set([pgid]));
  const ours = members.some((member) => commandLine(member.pid).some(inRuntimeDir));
  if (ours) for (const member of members) killQuietly(member.pid);
  // What its functions started in a session of their own left the group, not the workers' uid
  // (unless the pid names another process by now, whose workers would have that uid).
  if (!isAlive(pgid)) killWorkerUser(pgid);
}

function inRuntimeDir(arg: string): boolean {
  return arg.startsWith(`${RUNTIME_DIR}${path.sep}`);
}

/** Resolves whether the process ended within `timeoutMs`. */
async function gone(ref: PidRef, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(ref.pid, ref.startTime)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}
