/**
 * What runs, from /proc (Linux): the cloud processes of one deployment (found by the control
 * address in their command line), their workers (their process group), resident memory, and
 * which of the processes seen during the run still live after shutdown (leaks).
 */
import { readFileSync, readdirSync } from "node:fs";
import { parseLocalBackendId } from "../backends/local-pids.js";
import { allPids, commandLine, isAlive, procStat } from "../runtime/proc-table.js";
import type { PraaS } from "../sdk/index.js";

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

/**
 * The active cloud processes of `app`, by the pid the control plane reports (a runtime taken
 * from the warm pool does not name its process on its command line).
 */
export async function cloudProcesses(client: PraaS, app: string): Promise<CloudProcessPid[]> {
  const { active } = await client.listProcesses(app);
  return active.flatMap(({ name, backendId }) => {
    const ref = backendId === undefined ? undefined : parseLocalBackendId(backendId);
    return ref && isAlive(ref.pid, ref.startTime) ? [{ name, pid: ref.pid }] : [];
  });
}

/**
 * Runtimes of one deployment, from their command lines: those started from scratch for `app`
 * dialling `control`, and warm-pool runtimes of the control plane with data dir `owner`.
 */
export function runtimesOf(app: string, control: string, owner: string): CloudProcessPid[] {
  const found: CloudProcessPid[] = [];
  for (const pid of allPids()) {
    const args = commandLine(pid);
    if (!args.some((arg) => arg.endsWith("runtime/main.js"))) continue;
    if (procStat(pid)?.state === "Z") continue;
    if (argAfter(args, "--owner") === owner) found.push({ name: "(warm-pool runtime)", pid });
    const name = argAfter(args, "--name");
    const ours = argAfter(args, "--app") === app && argAfter(args, "--control") === control;
    if (ours && name !== undefined) found.push({ name, pid });
  }
  return found;
}

/** The children of `pid` (every thread's), from /proc; none when it is gone. */
export function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, "latin1")
        .split(" ")
        .filter((child) => child !== "")
        .map(Number),
    );
  } catch {
    return [];
  }
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
