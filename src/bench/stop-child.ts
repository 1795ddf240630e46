/** Ending a child process the bench started: politely, then for sure, bounded. */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { terminate } from "../runtime/launch.js";

/** SIGTERM (a `praas up` then stops the processes it started), SIGKILL after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  return terminate(child, once(child, "exit"), graceMs);
}
