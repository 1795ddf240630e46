/**
 * The first thing a warm slot's runtime does (`main.js --warm`): read the slot's flags, make
 * its memory cgroup and sandbox, and spawn its workers, before it loads the rest of its code.
 * A worker takes about as long to boot as the runtime takes to load its own modules (some
 * 90 ms each on a 2-core VM); started first, the two overlap instead of following each other.
 * So this module imports little: the protocol, the sandbox, the cgroup and the spawn.
 */
import { parseArgs } from "node:util";
import {
  PraaSError,
  parseInteger,
  parsePermissionList,
  type AppPermissions,
} from "../protocol/index.js";
import { cgroupAhead, kernelLimitBytes, type Cgroup } from "./memory-guard.js";
import { WorkerSandbox } from "./worker-sandbox.js";
import { heapMiBFor, spawnWorker, type SpawnedWorker, type WorkerSlot } from "./worker-spawn.js";

export interface SlotOptions {
  workers: number;
  memoryMiB: number;
  maxPayloadBytes: number;
  permissions: Readonly<AppPermissions>;
  log(message: string): void;
}

/** A slot's sandbox and cgroup, made, and its workers, spawned (not yet booted). */
export interface SpawnedSlot {
  options: SlotOptions;
  cgroup: Cgroup | undefined;
  slot: WorkerSlot;
  workers: SpawnedWorker[];
}

/** Makes the cgroup (so the workers are in it from birth) and the sandbox, spawns the workers. */
export async function spawnSlot(options: SlotOptions): Promise<SpawnedSlot> {
  const cgroup = cgroupAhead(`pool.${process.pid}`, kernelLimitBytes(options.memoryMiB));
  const sandbox = new WorkerSandbox({ label: "pool", ...options });
  try {
    await sandbox.prepare();
  } catch (error) {
    cgroup?.remove();
    await sandbox.remove();
    throw error;
  }
  const heapMiB = heapMiBFor(options.memoryMiB, options.workers);
  const slot = { sandbox, heapMiB, maxPayloadBytes: options.maxPayloadBytes };
  const workers = Array.from({ length: options.workers }, () => spawnWorker(slot));
  return { options, cgroup, slot, workers };
}

/** A warm slot's flags (launch.ts `slotArgs`): what a slot needs at spawn. */
export interface WarmFlags {
  workers: number;
  memoryMiB: number;
  maxPayloadBytes: number;
  permissions: AppPermissions;
  logLevel: string;
  /** Started ahead of its assignment (a pool member): rehearse while nobody waits. */
  ahead: boolean;
}

/**
 * Node's own parser rather than the runtime's commander program: these flags come only from
 * the launcher, and commander would be one more package to load before the workers start.
 */
export function parseWarmFlags(argv: string[]): WarmFlags {
  const values = warmValues(argv);
  return {
    workers: parseInteger(values.workers, "--workers", 1),
    memoryMiB: parseInteger(values.memory, "--memory", 1),
    maxPayloadBytes: parseInteger(values["max-payload"], "--max-payload", 1),
    permissions: parsePermissionList(values.allow),
    logLevel: values["log-level"],
    ahead: values.ahead,
  };
}

function warmValues(argv: string[]) {
  try {
    return parseWarmArgs(argv);
  } catch (error) {
    throw new PraaSError("BAD_REQUEST", error instanceof Error ? error.message : String(error));
  }
}

function parseWarmArgs(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      warm: { type: "boolean" },
      ahead: { type: "boolean", default: false },
      workers: { type: "string", default: "1" },
      memory: { type: "string", default: "512" },
      "max-payload": { type: "string", default: String(64 * 1024 * 1024) },
      allow: { type: "string", default: "" },
      owner: { type: "string" }, // only for `ps`: whose runtime it is
      "log-level": { type: "string", default: "info" },
    },
  });
  return values;
}

/** A slot being spawned by the runtime's entry, and what happened meanwhile. */
export interface EarlySlot {
  /** Undefined when the flags were wrong (`spawned` says why). */
  flags: WarmFlags | undefined;
  spawned: Promise<SpawnedSlot>;
  /** Stops catching signals; whether a SIGTERM or SIGINT came meanwhile (discard the slot). */
  settle(): boolean;
  /** Log lines the sandbox said before there was a logger, then all later ones, go to `log`. */
  logTo(log: (message: string) => void): void;
}

/** Starts spawning the slot `argv` describes; a signal meanwhile is noted, not obeyed. */
export function beginWarmSlot(argv: string[]): EarlySlot {
  let signalled = false;
  const onSignal = (): void => void (signalled = true);
  process.once("SIGTERM", onSignal).once("SIGINT", onSignal);
  const said: string[] = [];
  let sink = (message: string): void => void said.push(message);
  let flags: WarmFlags | undefined;
  let spawned: Promise<SpawnedSlot>;
  try {
    flags = parseWarmFlags(argv);
    spawned = spawnSlot({ ...flags, log: (message) => sink(message) });
  } catch (error) {
    spawned = Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  spawned.catch(() => undefined); // the runtime awaits it once its code is loaded
  return {
    flags,
    spawned,
    settle: () => {
      process.off("SIGTERM", onSignal).off("SIGINT", onSignal);
      return signalled;
    },
    logTo: (log) => {
      sink = log;
      said.splice(0).forEach(log);
    },
  };
}
