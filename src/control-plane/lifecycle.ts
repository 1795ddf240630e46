/**
 * The process state machine, enforced on the metadata store with compare-and-set so several
 * control-plane replicas can share it:
 *
 *   allocating → active → swapping → swapped → resuming → active
 *   any live state → failed (unexpected loss);  active | swapped | failed → deleted
 *
 * A transition not in the table is refused with INVALID_STATE (HTTP 409).
 */
import { PraaSError, type ProcessStatus } from "../protocol/index.js";
import type { MetadataStore, ProcessPatch, ProcessRecord } from "../storage/index.js";

const ALLOWED: Readonly<Record<ProcessStatus, readonly ProcessStatus[]>> = {
  allocating: ["active", "failed"],
  active: ["swapping", "failed", "deleted"],
  swapping: ["swapped", "active", "failed"],
  swapped: ["resuming", "deleted"],
  resuming: ["active", "swapped", "failed"],
  failed: ["resuming", "active", "deleted"],
  deleted: [],
};

export function canTransition(from: ProcessStatus, to: ProcessStatus): boolean {
  return ALLOWED[from].includes(to);
}

export async function getProcessOrThrow(
  store: MetadataStore,
  app: string,
  name: string,
): Promise<ProcessRecord> {
  const record = await store.getProcess(app, name);
  if (record === undefined) throw new PraaSError("PROCESS_NOT_FOUND", `no process ${app}/${name}`);
  return record;
}

/**
 * Moves a process to `to` if its current status is one of `from` (and the table allows it);
 * retries when another writer changed the record in between.
 */
export async function transition(
  store: MetadataStore,
  app: string,
  name: string,
  from: readonly ProcessStatus[],
  to: ProcessStatus,
  patch: ProcessPatch = {},
): Promise<ProcessRecord> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const record = await getProcessOrThrow(store, app, name);
    const refresh = record.status === to; // e.g. an active process reconnecting with a new address
    if (!from.includes(record.status) || !(refresh || canTransition(record.status, to))) {
      throw new PraaSError(
        "INVALID_STATE",
        `process ${app}/${name} is ${record.status}; cannot make it ${to}`,
      );
    }
    const updated = await store.updateProcess(app, name, record.revision, {
      updatedAt: Date.now(),
      ...patch,
      status: to,
    });
    if (updated) return updated;
  }
  throw new PraaSError("UNAVAILABLE", `process ${app}/${name} is changing too often; try again`);
}
