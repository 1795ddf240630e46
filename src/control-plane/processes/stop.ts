/** Stopping a running process: over its control link, else through the backend. */
import type { ProcessRecord } from "../../storage/index.js";
import type { ManagerDeps } from "./deps.js";

export type StopDeps = Pick<ManagerDeps, "cluster" | "backend">;

export async function stopProcess(deps: StopDeps, record: ProcessRecord): Promise<void> {
  try {
    await deps.cluster.command(record.app, record.name, "stop", undefined, 10_000);
  } catch {
    if (record.backendId) await deps.backend.stop(record.backendId);
  }
}

/** A failed record whose process may still run (e.g. its link dropped but it lives on). */
export async function stopIfAlive(deps: StopDeps, record: ProcessRecord): Promise<void> {
  if (await deps.cluster.linked(record)) await stopProcess(deps, record);
  else if (record.backendId) await deps.backend.stop(record.backendId);
}
