/**
 * Sandbox directories whose process is gone. A process removes its own at stop, but one killed
 * by SIGKILL (or by the OOM killer, or a crash of the machine's power) cannot: its bundle copy
 * and whatever its functions wrote to scratch would stay in the temp directory for good. Each
 * sandbox's name carries its process's pid, so any later process can tell the dead ones and
 * remove them.
 */
import { readdir, rm } from "node:fs/promises";
import path from "node:path";

const PREFIX = "praas-";
/**
 * `praas-<label>-pid<pid>-<12 hex>`: the label may hold dashes, the last two parts cannot, and
 * the `pid` marker keeps a label ending in digits (`app-p-7`) from being read as a pid.
 */
const NAME = /^praas-.+-pid(\d+)-[0-9a-f]{12}$/;

/** The directory name of a sandbox of process `pid`. */
export function sandboxName(label: string, pid: number, unique: string): string {
  return `${PREFIX}${label}-pid${pid}-${unique}`;
}

/** Removes, under `root`, every sandbox whose process is no longer running; returns their names. */
export async function removeStaleSandboxes(root: string): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const stale = names.filter((name) => name.startsWith(PREFIX) && isStale(name));
  await Promise.all(
    stale.map((name) => rm(path.join(root, name), { recursive: true, force: true })),
  );
  return stale;
}

function isStale(name: string): boolean {
  const pid = NAME.exec(name)?.[1];
  return pid !== undefined && !isRunning(Number(pid));
}

/** Signal 0 only checks: ESRCH says no such process (EPERM: it runs, as someone else). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
