/**
 * What runs, from /proc (Linux): the cloud processes of one deployment (found by the control
 * address in their command line), their workers (their process group), resident memory, and
 * which of the processes seen during the run still live after shutdown (leaks).
 */
import { readFileSync } from "node:fs";
import { allPids, commandLine, isAlive, procStat } from "../runtime/proc-table.js";

const PAGE_BYTES = 4096;

export function residentBytes(pid: number): number {
  let statm: string;
  try {
    statm = readFileSync(`/proc/${pid}/statm`, "latin1");
  } catch {
    return 0;
  }
  return Number(statm.split(" ")[1]) * PAGE_BYTES;
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
