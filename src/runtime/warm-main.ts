/**
 * A warm-pool member once its code is loaded (main.ts spawned its workers first, see
 * slot-spawn.ts): boot the slot, say "warm", wait for the assignment on stdin, then become the
 * process it names (process-main.ts). Stdin closing first (its pool is gone) or a signal
 * discards the slot and exits 0.
 */
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { createLogger, type LogLevel, type Logger } from "../logging/index.js";
import { openBlobStore } from "../storage/index.js";
import { CloudProcess } from "./cloud-process.js";
import { configFrom, fail, runProcess, runtimeProgram, type Flags } from "./process-main.js";
import type { EarlySlot } from "./slot-spawn.js";
import { WarmSlot } from "./warm-slot.js";

/** Boots the slot the entry spawned, then becomes the process the assignment names. */
export async function runWarm(early: EarlySlot): Promise<void> {
  const log = createLogger("process:warm", (early.flags?.logLevel ?? "info") as LogLevel);
  early.logTo((message) => log.info(message));
  const ahead = early.flags?.ahead ?? false;
  let slot: WarmSlot;
  try {
    slot = await WarmSlot.start(await early.spawned, ahead);
  } catch (error) {
    early.settle();
    fail(log, error);
    return;
  }
  if (ahead) await rehearseAssignment(log);
  const parser = runtimeProgram().exitOverride(); // made ahead: building it costs most of a parse
  // Signals caught since the entry began are obeyed now; from here awaitAssignment catches them.
  if (early.settle()) return discardAndExit(slot);
  const assignment = await awaitAssignment(slot);
  if (assignment === undefined) return discardAndExit(slot);
  let assigned: Flags;
  try {
    assigned = parser.parse(assignment.args, { from: "user" }).opts();
  } catch (error) {
    await slot.discard();
    fail(log, error);
    return;
  }
  await runProcess(assigned, assignment.env, slot);
}

/** What the rehearsal parses: the flags a pooled process usually gets, nothing of anyone's. */
const REHEARSAL_ARGS = ["--app", "rehearsal", "--name", "rehearsal", "--bundle", "/dev/null"];
const REHEARSAL_ENV = { PRAAS_BLOB_CONFIG: JSON.stringify({ kind: "disk", root: "/dev/null" }) };

/**
 * Parses a made-up assignment the way the real one will be, and builds (never starts) the
 * process it describes: the first run of the command-line parser, the config checks and the
 * process's constructors compiles their code (several ms, the longest steps between the
 * assignment and LOAD), paid here, before anyone waits. `performance`, which Node loads on
 * first use (about a ms), times the first call's notices.
 */
async function rehearseAssignment(log: Logger): Promise<void> {
  performance.now();
  try {
    const flags = runtimeProgram().exitOverride().parse(REHEARSAL_ARGS, { from: "user" });
    const config = configFrom(flags.opts<Flags>(), REHEARSAL_ENV, "/dev/null");
    const blobs = await openBlobStore({ kind: "disk", root: tmpdir() });
    const rehearsal = new CloudProcess(config, blobs, log);
    log.debug({ status: rehearsal.status }, "rehearsed an assignment");
    await blobs.close();
  } catch {
    // Only a rehearsal: the real assignment reports its own errors.
  }
}

interface Assignment {
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** Says "warm", then waits for the assignment line; undefined when stdin closes or a signal comes. */
function awaitAssignment(slot: WarmSlot): Promise<Assignment | undefined> {
  process.stdout.write(`${JSON.stringify({ event: "warm", workers: slot.pids })}\n`);
  return new Promise((resolve) => {
    const lines = createInterface({ input: process.stdin });
    const done = (assignment: Assignment | undefined): void => {
      process.off("SIGTERM", onSignal).off("SIGINT", onSignal);
      lines.removeAllListeners().close();
      process.stdin.destroy(); // the pool's end may close now: we are on our own
      resolve(assignment);
    };
    const onSignal = (): void => done(undefined);
    process.once("SIGTERM", onSignal).once("SIGINT", onSignal);
    lines.once("line", (line) => done(JSON.parse(line) as Assignment));
    lines.once("close", () => done(undefined));
  });
}

async function discardAndExit(slot: WarmSlot): Promise<void> {
  await slot.discard().catch(() => undefined);
  process.exit(0);
}
