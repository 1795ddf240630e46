/**
 * Deleting a process: its record is marked deleted, the process stopped, its swapped state and
 * write-ahead log removed, and the record last (so no create of the name can start while any
 * of that is left). A delete cut short after the first step (the store down at a later write, a
 * control-plane crash) leaves the record `deleted`; finishDeletion completes it.
 */
import { PraaSError, ensurePraaSError } from "../../protocol/index.js";
import type { ProcessRecord } from "../../storage/index.js";
import { getProcessOrThrow, transition } from "../lifecycle.js";
import { snapshotKey } from "../records.js";
import type { ManagerDeps } from "./deps.js";
import { storeUnreachable } from "./errors.js";
import { stopIfAlive, stopProcess } from "./stop.js";

export type DeleteDeps = Pick<ManagerDeps, "store" | "blobs" | "backend" | "cluster">;

/**
 * Deletes a process; one that is still running (active, or failed but alive) is stopped.
 * `cutShort` is called when the delete fails after it marked the record deleted, or may have.
 * A record left `deleted` by such a delete is finished now: deleting it again is how a user
 * retries.
 */
export async function deleteProcess(
  deps: DeleteDeps,
  app: string,
  name: string,
  cutShort: () => void,
): Promise<void> {
  const record = await getProcessOrThrow(deps.store, app, name);
  if (record.status === "deleted") return finishNow(deps, app, name);
  await transition(deps.store, app, name, ["active", "swapped", "failed"], "deleted", {
    connection: undefined,
  }).catch((error: unknown) => {
    // The store may have taken the write and lost only its answer.
    if (storeUnreachable(error)) cutShort();
    throw error;
  });
  try {
    if (record.status === "active") await stopProcess(deps, record);
    if (record.status === "failed") await stopIfAlive(deps, record);
    await removeRemains(deps, record);
  } catch (error) {
    cutShort();
    throw unfinished(app, name, error);
  }
}

/** Finishes a delete that did not end, for a caller waiting on it (a delete, a create). */
export async function finishNow(deps: DeleteDeps, app: string, name: string): Promise<void> {
  await finishDeletion(deps, app, name, Date.now()).catch((error: unknown) => {
    throw unfinished(app, name, error);
  });
}

/** Says what is left and that it will go, keeping the cause's code (STORAGE_ERROR, UNAVAILABLE). */
function unfinished(app: string, name: string, error: unknown): PraaSError {
  const cause = ensurePraaSError(error);
  return new PraaSError(
    cause.code,
    `process ${app}/${name} is deleted, but its delete could not finish (${cause.message}); ` +
      "deleting it again finishes it, and so does the control plane once the cause is gone",
  );
}

/**
 * Completes a delete that marked the record deleted at or before `before` and did not end. The
 * record is claimed first (a compare-and-set), so of several finishers one goes on; one that
 * loses, or finds the record gone or written later, does nothing. Throws while the store fails,
 * to be tried again.
 */
export async function finishDeletion(
  deps: DeleteDeps,
  app: string,
  name: string,
  before: number,
): Promise<void> {
  const record = await deps.store.getProcess(app, name);
  if (record?.status !== "deleted" || record.updatedAt > before) return;
  const claimed = await deps.store.updateProcess(app, name, record.revision, {});
  if (!claimed) return;
  await stopIfAlive(deps, claimed);
  await removeRemains(deps, claimed);
}

/** What a process leaves behind, its record last. */
async function removeRemains(deps: DeleteDeps, record: ProcessRecord): Promise<void> {
  const { app, name } = record;
  await deps.blobs.delete(snapshotKey(app, name));
  await deps.backend.deleteLog?.(app, name);
  await deps.store.deleteProcess(app, name);
}
