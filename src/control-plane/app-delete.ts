/**
 * Deleting an application: its processes, its record, then its bundles. Clients may still be
 * creating its processes as it goes (get-or-create calls): a create reads the application again
 * once its process record is written and undoes itself if the application is gone, and the
 * delete lists the processes again once the record is gone, so every process is deleted by one
 * or the other. A record gone with processes left is an earlier delete cut short: deleting the
 * application again finishes it.
 */
import { PraaSError } from "../protocol/index.js";
import type { BlobStore, MetadataStore, ProcessRecord } from "../storage/index.js";

export interface AppDeleteDeps {
  store: MetadataStore;
  blobs: BlobStore;
  /** Deletes one process, waiting for one caught mid-operation instead of refusing it. */
  deleteProcess(app: string, name: string): Promise<void>;
}

/** Processes deleted at once. */
const PARALLEL_DELETES = 8;
/** Rounds of listing after the record is gone: creates already past their check, at most. */
const LATE_CREATE_ROUNDS = 5;

export async function deleteApplication(
  deps: AppDeleteDeps,
  name: string,
  force: boolean,
): Promise<void> {
  const [record, processes] = await Promise.all([
    deps.store.getApp(name),
    deps.store.listProcesses(name),
  ]);
  if (!record && processes.length === 0)
    throw new PraaSError("APP_NOT_FOUND", `no application ${name}`);
  // A process a delete could not finish is not listed; its delete is finished below.
  const live = processes.filter((proc) => proc.status !== "deleted").length;
  if (live > 0 && !force) {
    throw new PraaSError(
      "INVALID_STATE",
      `application ${name} has ${live} processes; delete them or use ?force=true`,
    );
  }
  await deleteEach(deps, name, processes);
  await deps.store.deleteApp(name);
  await deleteLateCreates(deps, name);
  for (const key of await deps.blobs.list(`apps/${name}/`)) await deps.blobs.delete(key);
}

/** A few at once: each mostly waits for its process to stop. */
async function deleteEach(
  deps: AppDeleteDeps,
  name: string,
  processes: ProcessRecord[],
): Promise<void> {
  const queue = processes.map((proc) => proc.name);
  const lane = async (): Promise<void> => {
    for (let proc = queue.shift(); proc !== undefined; proc = queue.shift())
      await deps.deleteProcess(name, proc);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_DELETES, queue.length) }, lane));
}

/** Processes whose create read the application just before its record went. */
async function deleteLateCreates(deps: AppDeleteDeps, name: string): Promise<void> {
  for (let round = 0; round < LATE_CREATE_ROUNDS; round++) {
    const left = await deps.store.listProcesses(name);
    if (left.length === 0) return;
    await deleteEach(deps, name, left);
  }
  throw new PraaSError(
    "UNAVAILABLE",
    `processes of ${name} were still being created as it was deleted; delete it again to finish`,
  );
}
