/**
 * A registration nobody here waited for: a process reconnecting, or one started elsewhere
 * whose link landed here; an earlier instance of a replaced process is refused.
 */
import { PraaSError } from "../../protocol/index.js";
import type { ProcessRecord } from "../../storage/index.js";
import type { Registration } from "../control-link-server.js";
import { getProcessOrThrow, transition } from "../lifecycle.js";
import type { Registrations } from "../registrations.js";
import type { ManagerDeps } from "./deps.js";
import { connectionOf } from "./patches.js";
import { TRANSITIONAL } from "./statuses.js";

export type ReconnectDeps = Pick<ManagerDeps, "store" | "backend" | "cluster" | "log">;

/** See ProcessManager.reconnected. */
export async function reconnected(
  deps: ReconnectDeps,
  registrations: Registrations,
  registration: Registration,
): Promise<void> {
  const { app, name, token } = registration;
  const record = await getProcessOrThrow(deps.store, app, name);
  refuseStale(registrations, record, registration);
  const replica = deps.cluster.id;
  if (record.status === "active" || record.status === "failed") {
    await transition(deps.store, app, name, ["active", "failed"], "active", {
      connection: connectionOf(registration, token),
      replica,
      error: undefined,
    });
  } else if (TRANSITIONAL.has(record.status)) {
    // Mid-operation (a swap waiting for this link, or a start by another replica, which sees
    // the connection appear in the record): only say where the link is now.
    // The operation keeps its start time: the sweeps judge from it whether it outlived its
    // replica (a crash), which a refreshed time would hide for minutes.
    const connection =
      record.status === "swapping" ? {} : { connection: connectionOf(registration, token) };
    await transition(deps.store, app, name, [record.status], record.status, {
      replica,
      updatedAt: record.updatedAt,
      ...connection,
    });
  } else {
    throw new PraaSError("INVALID_STATE", `process ${app}/${name} is ${record.status}`);
  }
  if (record.backendId) deps.backend.adoptReconnected?.(record.backendId, app, name);
  deps.log.info({ app, name, status: record.status }, "process reconnected");
}

/**
 * An earlier instance of a process that was replaced (marked failed while it was only
 * re-dialling, then resumed) must not take the record or the control link back from the
 * instance that replaced it: its token is not the one the record or the start waits for.
 * REPLACED tells it to exit without saving: its state is older than the newer instance's, so
 * swapping it out (as an orphan would) could overwrite the newer snapshot.
 */
function refuseStale(
  registrations: Registrations,
  record: ProcessRecord,
  registration: Registration,
): void {
  const current = record.connection?.token;
  const replaced =
    ((record.status === "active" || record.status === "swapping") &&
      current !== undefined &&
      current !== registration.token) ||
    ((record.status === "allocating" || record.status === "resuming") &&
      registrations.starting(record.app, record.name));
  if (replaced) {
    throw new PraaSError(
      "REPLACED",
      `process ${record.app}/${record.name} was replaced by a newer instance`,
    );
  }
}
