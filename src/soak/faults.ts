/**
 * The faults, injected one after another on a schedule, each counted per kind: five ways a
 * worker dies (through functions of the soak app), SIGKILL of a cloud process, SIGKILL and
 * restart of the control plane, a Redis restart, and a swap onto a full blob disk.
 */
import { randomBytes, randomInt } from "node:crypto";
import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { FrameType, encodeFrame } from "../protocol/frame.js";
import { encodeFields } from "../protocol/fields.js";
import { APP, type SoakClient } from "./client.js";
import type { Deployment } from "./deployment.js";
import type { Ledger } from "./ledger.js";
import { swapOnce, sleep, type Stopper } from "./load.js";
import { cloudProcesses } from "./procs.js";

export const FAULT_KINDS = [
  "worker-exit",
  "worker-timer-throw",
  "worker-timeout",
  "worker-heap",
  "worker-garbage",
  "process-sigkill",
  "control-plane-sigkill",
  "redis-restart",
  "disk-full-swap",
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultCount {
  injected: number;
  skipped: number;
  notes: string[];
}

export type FaultCounts = Record<FaultKind, FaultCount>;

export interface FaultContext {
  client: SoakClient;
  ledger: Ledger;
  deployment: Deployment;
  names: readonly string[];
}

const WORKER_FUNCTIONS: Partial<Record<FaultKind, string>> = {
  "worker-exit": "crashExit",
  "worker-timer-throw": "crashTimer",
  "worker-timeout": "hang",
  "worker-heap": "exhaustHeap",
  "worker-garbage": "garbage",
};

export function emptyCounts(): FaultCounts {
  const entries = FAULT_KINDS.map((kind) => [kind, { injected: 0, skipped: 0, notes: [] }]);
  return Object.fromEntries(entries) as FaultCounts;
}

/** Every kind in turn until the deadline, and each at least once even past it. */
export async function runFaults(
  context: FaultContext,
  counts: FaultCounts,
  options: { everyMs: number; deadline: number },
  stop: Stopper,
): Promise<void> {
  for (let turn = 0; !stop.stopped; turn++) {
    if (Date.now() >= options.deadline && turn >= FAULT_KINDS.length) return;
    const kind = FAULT_KINDS[turn % FAULT_KINDS.length]!;
    context.ledger.fault(`${kind} begins`);
    await inject(kind, context, counts[kind]);
    context.ledger.fault(`${kind} ends`);
    await sleep(options.everyMs);
  }
}

function pick<T>(items: readonly T[]): T {
  return items[randomInt(items.length)]!;
}

async function inject(kind: FaultKind, context: FaultContext, count: FaultCount): Promise<void> {
  const fn = WORKER_FUNCTIONS[kind];
  if (fn !== undefined) return workerFault(kind, fn, context, count);
  if (kind === "process-sigkill") return killProcess(context, count);
  if (kind === "control-plane-sigkill") {
    count.injected++;
    return context.deployment.killAndRestartControlPlane();
  }
  if (kind === "redis-restart") {
    count.injected++;
    return context.deployment.restartRedis();
  }
  return diskFullSwap(context, count);
}

async function workerFault(
  kind: FaultKind,
  fn: string,
  context: FaultContext,
  count: FaultCount,
): Promise<void> {
  count.injected++;
  const payload = kind === "worker-garbage" ? garbageBytes() : new Uint8Array(0);
  const name = pick(context.names);
  context.ledger.fault(`${kind} on ${name}`);
  const output = await context.client.direct(`fault.${kind}`, name, fn, payload);
  const said = output === undefined ? "" : Buffer.from(output).toString();
  if (said.startsWith("refused") && !count.notes.includes(said)) count.notes.push(said);
}

/** Random bytes, or a well-formed frame the worker link does not expect (half each). */
function garbageBytes(): Uint8Array {
  if (randomInt(2) === 0) return randomBytes(randomInt(1, 512));
  const type = pick([FrameType.Result, FrameType.Ready, FrameType.StateGet, 99]);
  return Buffer.concat(encodeFrame(type as FrameType, randomInt(2 ** 32), encodeFields(["x"])));
}

async function killProcess(context: FaultContext, count: FaultCount): Promise<void> {
  // The control plane may be down (a fault of its own): then there is no one to kill now.
  const running = await cloudProcesses(context.client.praas, APP).catch(() => []);
  if (running.length === 0) {
    count.skipped++;
    return;
  }
  const victim = pick(running);
  try {
    process.kill(victim.pid, "SIGKILL");
  } catch {
    count.skipped++; // it exited (a swap) between the scan and the signal
    return;
  }
  context.ledger.process(victim.name).kills.push(Date.now());
  context.ledger.fault(`SIGKILL ${victim.name} (pid ${victim.pid})`);
  count.injected++;
}

/**
 * Fills the data dir's disk, swaps a process out (it must fail with STORAGE_ERROR and leave
 * the process serving), then frees the disk.
 */
async function diskFullSwap(context: FaultContext, count: FaultCount): Promise<void> {
  if (!context.deployment.diskCanFill) {
    count.skipped++;
    const note = "not root (or mount failed): no small disk to fill";
    if (!count.notes.includes(note)) count.notes.push(note);
    return;
  }
  const name = await activeProcess(context);
  if (name === undefined) {
    count.skipped++;
    return;
  }
  const filler = path.join(context.deployment.dataDir, "soak-filler");
  fillDisk(filler);
  count.injected++;
  context.ledger.fault(`disk full, swapping ${name}`);
  try {
    if (await swapOnce(context.client, context.ledger, name, "fault.disk-full-swap")) {
      count.notes.push(`swap of ${name} succeeded on a full disk`);
    }
  } finally {
    unlinkSync(filler);
  }
}

/** An active process to swap (a swapped or failed one would refuse before touching the disk). */
async function activeProcess(context: FaultContext): Promise<string | undefined> {
  const list = await context.client.call("fault.disk-full-swap.list", () =>
    context.client.praas.listProcesses(APP),
  );
  const active = list?.active.map((info) => info.name) ?? [];
  return active.length === 0 ? undefined : pick(active);
}

/** Writes until ENOSPC, first in big then in page-sized chunks. */
function fillDisk(file: string): void {
  const fd = openSync(file, "w");
  try {
    for (const size of [1024 * 1024, 4096]) writeUntilFull(fd, Buffer.alloc(size));
  } finally {
    closeSync(fd);
  }
}

function writeUntilFull(fd: number, chunk: Buffer): void {
  try {
    while (writeSync(fd, chunk) === chunk.length);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  }
}
