/**
 * Resuming a swapped or failed process: its start from its stored state (see
 * ProcessManager.resume).
 */
import type { ProcessRecord } from "../../storage/index.js";
import { transition } from "../lifecycle.js";
import { snapshotKey } from "../records.js";
import type { ManagerDeps } from "./deps.js";
import { reasonOf } from "./errors.js";
import type { Launcher } from "./launch.js";

export type SwapInDeps = Pick<ManagerDeps, "store" | "blobs" | "backend">;

/**
 * One resume, run as this replica's operation on the process, once it is its turn: on the
 * application's current version, or on `version` when given.
 */
export async function swapIn(
  deps: SwapInDeps,
  launcher: Launcher,
  record: ProcessRecord,
  version?: number,
): Promise<ProcessRecord> {
  const { store, blobs } = deps;
  const { app, name, status: from } = record;
  await transition(store, app, name, ["swapped", "failed"], "resuming");
  // An earlier instance that is still alive (cut off, re-dialling) would hold the write-ahead
  // log's claim until told REPLACED; it saves nothing either way, so it goes first.
  if (from === "failed" && record.backendId) {
    await deps.backend.stop(record.backendId).catch(() => undefined);
  }
  const restore = from !== "failed" || (await blobs.stat(snapshotKey(app, name))) !== undefined;
  const undo = async (error: unknown): Promise<void> => {
    // A failed process says why it is still failed: its start's error (e.g. a corrupt log).
    const back = from === "failed" ? { error: `resume failed: ${reasonOf(error)}` } : {};
    await transition(
      store,
      app,
      name,
      ["resuming"],
      from === "failed" ? "failed" : "swapped",
      back,
    ).catch(() => undefined);
  };
  return launcher.activate(record, "resuming", restore, undo, version);
}
