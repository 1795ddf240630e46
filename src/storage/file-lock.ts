/**
 * An exclusive lock on a directory for one control plane: a lock file created with O_EXCL that
 * names its holder (pid and host). A lock whose holder on this host is gone (it was killed, so
 * it could not remove the file) is taken over; a live holder's is refused with UNAVAILABLE.
 */
import { open, readFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { PraaSError } from "../protocol/index.js";

/** Lock files this process holds: a second store on the same directory here is refused too. */
const held = new Set<string>();

export interface FileLock {
  release(): Promise<void>;
}

/** Takes the lock at `file`; rejects with UNAVAILABLE while another live process holds it. */
export async function acquireLock(file: string, what: string): Promise<FileLock> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await tryCreate(file)) return lockAt(file);
    const holder = await readHolder(file);
    if (holder && isAlive(holder, file)) throw inUse(holder, file, what);
    if (holder) await rm(file, { force: true }); // its holder died without releasing it
  }
  throw new PraaSError("UNAVAILABLE", `cannot take the lock ${file}: it keeps changing hands`);
}

function lockAt(file: string): FileLock {
  held.add(file);
  return {
    release: async () => {
      if (!held.delete(file)) return;
      await rm(file, { force: true });
    },
  };
}

async function tryCreate(file: string): Promise<boolean> {
  try {
    const handle = await open(file, "wx", 0o600);
    try {
      await handle.writeFile(`${process.pid}\n${hostname()}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new PraaSError("STORAGE_ERROR", `cannot create the lock file ${file}: ${String(error)}`);
  }
}

interface Holder {
  pid: number;
  host: string;
}

async function readHolder(file: string): Promise<Holder | undefined> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const [pid = "", host = ""] = text.split("\n");
  // A file torn by a crash mid-write names nobody: it is stale.
  return { pid: Number.parseInt(pid, 10) || 0, host };
}

/** On another host we cannot tell, so it counts as alive (the message says what to do). */
function isAlive(holder: Holder, file: string): boolean {
  if (holder.host !== hostname()) return true;
  if (holder.pid <= 0) return false;
  if (holder.pid === process.pid) return held.has(file);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function inUse(holder: Holder, file: string, what: string): PraaSError {
  return new PraaSError(
    "UNAVAILABLE",
    `${what} is in use by another control plane (pid ${holder.pid} on ${holder.host}): stop it ` +
      `or use another --data-dir (if it is surely gone, remove ${file})`,
  );
}
