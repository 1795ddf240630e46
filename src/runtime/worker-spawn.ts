/**
 * Starting one worker subprocess in its sandbox, with the descriptors the worker expects
 * (worker/main.ts). Kept light on purpose: a warm slot's entry spawns its workers with it
 * before it loads the rest of the runtime (slot-spawn.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { WorkerSandbox } from "./worker-sandbox.js";

/** What a worker is started with; the same for every worker of a warm-pool slot. */
export interface WorkerSlot {
  /** Where and as whom workers run; holds the bundle copy they load. */
  sandbox: WorkerSandbox;
  heapMiB: number;
  maxPayloadBytes: number;
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A worker subprocess as spawned, watched from its first tick: whoever takes it over later
 * (worker-handle.ts) still learns how it ended, even if that was before.
 */
export interface SpawnedWorker {
  child: ChildProcess;
  exited: Promise<WorkerExit>;
  /** Why it could not be started at all (e.g. its sandbox is gone); set once `exited` is. */
  startError(): Error | undefined;
}

/** Each worker's V8 heap limit: its share of the process's memory (at least 16 MiB). */
export function heapMiBFor(memoryMiB: number, workers: number): number {
  return Math.max(16, Math.floor(memoryMiB / workers));
}

/** A worker subprocess, in its sandbox, with no user code and no environment of any app yet. */
export function spawnWorker(slot: WorkerSlot): SpawnedWorker {
  const { command, args, ...options } = slot.sandbox.command([
    `--max-old-space-size=${slot.heapMiB}`,
    WorkerSandbox.workerMain,
    slot.sandbox.bundlePath,
    String(slot.maxPayloadBytes),
  ]);
  // fd 3: the frame link; fd 4: Node's IPC channel, which alone can pass a socket along;
  // fd 5: call notices, read in sweeps.
  const stdio = ["ignore", "pipe", "pipe", "pipe", "ipc", "pipe"] as const;
  const child = spawn(command, args, { ...options, stdio: [...stdio] });
  let failure: Error | undefined;
  const exited = new Promise<WorkerExit>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    // Not an unhandled 'error' that would take the whole process down.
    child.once("error", (error) => {
      failure = error;
      resolve({ code: null, signal: null });
    });
  });
  return { child, exited, startError: () => failure };
}
