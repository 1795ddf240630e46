/** Recording a swap-out the process made by itself (a signal told it to stop). */
import { getProcessOrThrow, transition } from "../lifecycle.js";
import type { ManagerDeps } from "./deps.js";
import { storeUnreachable } from "./errors.js";
import type { UnrecordedEnds } from "./unrecorded-ends.js";

export type SelfSwapDeps = Pick<ManagerDeps, "store" | "log">;

/** See ProcessManager.swappedItself. */
export async function swappedItself(
  deps: SelfSwapDeps,
  unrecorded: UnrecordedEnds,
  app: string,
  name: string,
  size: number,
): Promise<void> {
  const write = () => recordSelfSwap(deps, app, name, size);
  await write().catch((error: unknown) => {
    if (storeUnreachable(error)) {
      deps.log.warn(
        { app, name, err: String(error) },
        "could not record that the process swapped itself out; will once the store answers",
      );
      unrecorded.recordLater(app, name, { swapped: true, write });
    }
    throw error;
  });
}

async function recordSelfSwap(
  deps: SelfSwapDeps,
  app: string,
  name: string,
  size: number,
): Promise<void> {
  const record = await getProcessOrThrow(deps.store, app, name);
  if (record.status !== "active") return;
  await transition(deps.store, app, name, ["active"], "swapping");
  await transition(deps.store, app, name, ["swapping"], "swapped", {
    stateSize: size,
    connection: undefined,
    backendId: undefined,
    swapReason: "signal",
  });
  deps.log.info({ app, name, size }, "process swapped itself out");
}
