/**
 * Memory as Linux counts it, from /proc: the resident set (RSS) and proportional share (PSS:
 * shared pages divided among their users) of a process group (a cloud process and its workers
 * lead and fill one), and what the machine still has available. Elsewhere every read is 0.
 */
import { readFileSync } from "node:fs";
import { groupMembers } from "../runtime/proc-table.js";

export interface Footprint {
  /** Processes counted. */
  processes: number;
  rssKiB: number;
  pssKiB: number;
}

function read(file: string): string {
  try {
    return readFileSync(file, "latin1");
  } catch {
    return ""; // ended meanwhile, or not Linux
  }
}

/** The value of `field:` (in kB) in a /proc file such as status, smaps_rollup or meminfo. */
export function kibField(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

/** One process's footprint. */
export function footprintOf(pid: number): Footprint {
  const rssKiB = kibField(read(`/proc/${pid}/status`), "VmRSS");
  const pssKiB = kibField(read(`/proc/${pid}/smaps_rollup`), "Pss");
  return { processes: rssKiB > 0 ? 1 : 0, rssKiB, pssKiB };
}

/** The footprint of each of these process groups (by group id), all members summed. */
export function groupFootprints(pgids: ReadonlySet<number>): Map<number, Footprint> {
  const footprints = new Map<number, Footprint>();
  for (const member of groupMembers(pgids)) {
    const one = footprintOf(member.pid);
    const sum = footprints.get(member.pgid) ?? { processes: 0, rssKiB: 0, pssKiB: 0 };
    footprints.set(member.pgid, {
      processes: sum.processes + one.processes,
      rssKiB: sum.rssKiB + one.rssKiB,
      pssKiB: sum.pssKiB + one.pssKiB,
    });
  }
  return footprints;
}

/** MemAvailable: what the kernel estimates can be allocated without swapping, in bytes. */
export function memoryAvailableBytes(): number {
  return kibField(read("/proc/meminfo"), "MemAvailable") * 1024;
}

/** MemTotal in bytes. */
export function memoryTotalBytes(): number {
  return kibField(read("/proc/meminfo"), "MemTotal") * 1024;
}
