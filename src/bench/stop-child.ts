/** Ending a child process the bench started: politely, then for sure, bounded. */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

/** SIGTERM (a `praas up` then stops the processes it started), SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
