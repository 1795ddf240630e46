/** At shutdown: swapping out (or stopping) the processes linked to this replica. */
import type { SwapReason } from "../../protocol/index.js";
import type { ProcessRecord } from "../../storage/index.js";
import type { ManagerDeps } from "./deps.js";
import { stopProcess } from "./stop.js";

export type ShutdownDeps = Pick<ManagerDeps, "store" | "links" | "cluster" | "backend" | "log">;

/** A swap-out as the manager runs it (queued behind the process's other operations). */
type Swap = (app: string, name: string, reason: SwapReason) => Promise<ProcessRecord>;

/** Swaps out (or stops) the linked processes; the backend ids of those left running. */
export async function stopLinked(
  deps: ShutdownDeps,
  swap: Swap,
  persist: boolean,
): Promise<Set<string>> {
  const { store, links } = deps;
  const apps = await store.listApps();
  const records = (await Promise.all(apps.map((a) => store.listProcesses(a.name)))).flat();
  const live = records.filter((r) => r.status === "active" && links.has(r.app, r.name));
  const kept = new Set<string>();
  await Promise.all(
    live.map(async (r) => {
      if (!persist) return stopProcess(deps, r).catch(() => undefined);
      const left = await swap(r.app, r.name, "shutdown").then(
        () => undefined,
        (error: unknown) => leftRunning(deps, r, error),
      );
      if (left !== undefined) kept.add(left);
    }),
  );
  return kept;
}

/**
 * After a failed shutdown swap: the backend id of a process still active with state that
 * exists nowhere else (its durability is not `log`), which is then not stopped.
 */
async function leftRunning(
  deps: ShutdownDeps,
  record: ProcessRecord,
  error: unknown,
): Promise<string | undefined> {
  const now = await deps.store.getProcess(record.app, record.name).catch(() => undefined);
  const { backendId } = now ?? {};
  if (now?.status !== "active" || backendId === undefined || now.durability === "log")
    return undefined;
  const { app, name } = record;
  const err = String(error);
  deps.log.error(
    { app, name, err },
    "state could not be swapped out: the process is left running with it",
  );
  return backendId;
}
