/**
 * Swapping a process out over its control link, and settling a swap that did not end in the
 * store (its command failed, or the replica running it died).
 */
import { randomBytes } from "node:crypto";
import type { SwapReason, SwapReply } from "../../protocol/index.js";
import type { ProcessRecord } from "../../storage/index.js";
import { decodeSnapshotHead } from "../../runtime/snapshot.js";
import { getProcessOrThrow, transition } from "../lifecycle.js";
import { snapshotKey } from "../records.js";
import type { ManagerDeps } from "./deps.js";
import { cutOff } from "./errors.js";
import { failedPatch } from "./patches.js";

/** How long a swap command may take (drain + write of the whole state). */
export const SWAP_COMMAND_TIMEOUT_MS = 120_000;

export type SwapDeps = Pick<ManagerDeps, "store" | "blobs" | "backend" | "cluster">;

/** One swap-out, run as this replica's operation on the process (see ProcessManager.swap). */
export async function swapOut(
  deps: SwapDeps,
  app: string,
  name: string,
  reason: SwapReason,
): Promise<ProcessRecord> {
  const { store, cluster } = deps;
  const swapId = randomBytes(12).toString("base64url");
  await transition(store, app, name, ["active"], "swapping", { swapId });
  const body = { swapId, ...(reason === "idle" ? { ifIdle: true } : {}) };
  let result: SwapReply;
  try {
    result = await cluster.command(app, name, "swap", body, SWAP_COMMAND_TIMEOUT_MS);
  } catch (error) {
    await settleSwap(deps, app, name, String(error)).catch(() => undefined);
    throw cutOff(error, `process ${app}/${name} ended before its swap answered; see its status`);
  }
  return transition(store, app, name, ["swapping"], "swapped", {
    stateSize: result.size,
    connection: undefined,
    backendId: undefined,
    swapReason: reason,
    idleSince: result.idleSince,
  });
}

/**
 * A swapping record whose swap did not end in the store: swapped when this swap stored its
 * state (the stored snapshot names the swap's id: the process exits, even if its link is still
 * up); back to active when the process is still connected (it could not store its state and
 * kept serving); failed otherwise. A snapshot merely existing proves nothing: an earlier
 * swap's is kept after a resume, and compaction stores them while a `log` process serves.
 * When the blob store cannot be read (the outage that failed the swap, often), a connected
 * process is taken at its word that it serves on: were it exiting after all, its exit makes
 * it `failed`, and it resumes from what it stored.
 */
export async function settleSwap(
  deps: SwapDeps,
  app: string,
  name: string,
  reason: string,
): Promise<void> {
  const { store, cluster } = deps;
  const record = await getProcessOrThrow(store, app, name);
  const stored = await swapStored(deps, record).catch(() => undefined);
  if (stored !== true && (await cluster.linked(record))) {
    await transition(store, app, name, ["swapping"], "active");
    return;
  }
  if (stored) {
    // Its state is stored: whatever is left of the process must not serve on.
    if (record.backendId) await deps.backend.stop(record.backendId);
    await transition(store, app, name, ["swapping"], "swapped", {
      connection: undefined,
      backendId: undefined,
    });
    return;
  }
  // Not stopped: a process that is only re-dialling comes back as active (failed → active),
  // and one whose snapshot could not be read resumes from it if it is there.
  const why = `swap failed and the process is gone: ${reason}`;
  await transition(store, app, name, ["swapping"], "failed", failedPatch(why));
}

/** Whether the stored snapshot is the one the record's swap command asked for. */
async function swapStored(deps: SwapDeps, record: ProcessRecord): Promise<boolean> {
  if (record.swapId === undefined) return false;
  const stream = await deps.blobs.get(snapshotKey(record.app, record.name));
  if (stream === undefined) return false;
  const head = await decodeSnapshotHead(stream).catch(() => undefined);
  return head?.swapId === record.swapId;
}
