/**
 * Who may append to a write-ahead log: the instance whose claim `<log>.owner` holds (created
 * with O_EXCL, so of two openers only one creates it). Two instances of one process never
 * append to one log: a newer instance started while an earlier one still runs (it was marked
 * failed while it could not reach the control plane) waits until the earlier one is gone, as
 * the control plane tells it to exit at its next re-dial, and fails to start if it is not.
 *
 * A claim whose owner is dead (killed: it never released it) is stale and taken over. On this
 * host that is known for sure: the pid is gone, or is another process now (its start time in
 * /proc differs). A claim written on another host (another container on a shared volume) cannot
 * be checked from here and is taken over; there the backend stops the earlier container.
 */
import { readFileSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { PraaSError } from "../protocol/index.js";

interface Owner {
  host: string;
  pid: number;
  /** The process's start time (clock ticks since boot), so a reused pid is not taken for it. */
  start: string;
}

const POLL_MS = 50;
const ATTEMPTS = 3;

export interface LogClaim {
  /** Removes the claim, if it is still ours. */
  release(): Promise<void>;
}

/** Claims `file` for this process, waiting up to `waitMs` for a live owner to go. */
export async function claimLog(file: string, waitMs: number): Promise<LogClaim> {
  const claimFile = `${file}.owner`;
  const self = ownerOfThisProcess();
  const deadline = Date.now() + waitMs;
  for (let taken = 0; ;) {
    if (await tryCreate(claimFile, self)) return { release: () => release(claimFile, self) };
    const owner = await readOwner(claimFile);
    if (owner === "absent") continue; // released just now
    if (owner !== undefined && isAlive(owner)) {
      if (Date.now() >= deadline) throw heldBy(file, owner);
      await delay(POLL_MS);
    } else if (++taken > ATTEMPTS) {
      throw new PraaSError("STORAGE_ERROR", `cannot take over the stale claim ${claimFile}`);
    } else {
      await rm(claimFile, { force: true }); // stale: its owner died without releasing it
    }
  }
}

function heldBy(file: string, owner: Owner): PraaSError {
  return new PraaSError(
    "UNAVAILABLE",
    `the write-ahead log ${file} is held by a running earlier instance of the process ` +
      `(pid ${owner.pid}); it exits once it reaches the control plane: try again`,
  );
}

async function tryCreate(claimFile: string, self: Owner): Promise<boolean> {
  let handle;
  try {
    handle = await open(claimFile, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    await handle.writeFile(JSON.stringify(self));
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return true;
}

/** The claim's owner; undefined when unreadable (a crash between create and write). */
async function readOwner(claimFile: string): Promise<Owner | "absent" | undefined> {
  let text: string;
  try {
    text = await readFile(claimFile, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "absent";
    throw error;
  }
  try {
    const owner = JSON.parse(text) as Partial<Owner>;
    const valid = typeof owner.host === "string" && Number.isInteger(owner.pid);
    return valid ? (owner as Owner) : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(owner: Owner): boolean {
  if (owner.host !== hostname()) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return startTimeOf(owner.pid) === owner.start;
}

async function release(claimFile: string, self: Owner): Promise<void> {
  const owner = await readOwner(claimFile).catch(() => undefined);
  if (typeof owner === "object" && owner.pid === self.pid && owner.start === self.start) {
    await rm(claimFile, { force: true });
  }
}

function ownerOfThisProcess(): Owner {
  return { host: hostname(), pid: process.pid, start: startTimeOf(process.pid) };
}

/** Field 22 of /proc/<pid>/stat; "" where there is no /proc (the pid alone then decides). */
function startTimeOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
