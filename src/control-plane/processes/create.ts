/** Creating a process: its record (allocating), then its start from nothing. */
import { randomBytes } from "node:crypto";
import {
  PraaSError,
  ensurePraaSError,
  parseDuration,
  parseDurability,
  type CreateProcessBody,
} from "../../protocol/index.js";
import type { AppRecord, ProcessRecord } from "../../storage/index.js";
import type { ControlPlaneConfig } from "../config.js";
import { snapshotKey } from "../records.js";
import { resolveProcessLimits, resolveResources } from "../resources.js";
import { finishNow } from "./delete.js";
import type { ManagerDeps } from "./deps.js";
import type { Launcher } from "./launch.js";
import type { Operations } from "./operations.js";

export type CreateDeps = Pick<
  ManagerDeps,
  "config" | "store" | "blobs" | "backend" | "cluster" | "log"
>;

/** What a create asks for; `auto` when the control plane allocates it for FaaS-style calls. */
export interface CreateRequest {
  app: string;
  name: string;
  body: CreateProcessBody;
  auto: boolean;
}

export async function createProcess(
  deps: CreateDeps,
  operations: Operations,
  launcher: Launcher,
  request: CreateRequest,
): Promise<ProcessRecord> {
  const { store, config } = deps;
  const { app, name } = request;
  const appRecord = await store.getApp(app);
  if (!appRecord) throw new PraaSError("APP_NOT_FOUND", `no application ${app}`);
  const record = newRecord(request, appRecord, config);
  // The operation is on the books before the record is written: the settling of an earlier
  // failed operation on this name (see leftovers.ts) then never sees the new record without it.
  const outcome = await operations.exclusive(app, name, async (): Promise<Outcome> => {
    const refused = await claimName(deps, record);
    if (refused !== undefined) return { refused };
    await stillDeployed(deps, app)
      .then(() => dropLeftovers(deps, app, name))
      .catch(async (error: unknown) => {
        await store.deleteProcess(app, name);
        throw error;
      });
    const undo = async (): Promise<void> => void (await store.deleteProcess(app, name));
    return { created: await launcher.activate(record, "allocating", false, undo) };
  });
  if ("refused" in outcome) throw outcome.refused;
  return outcome.created;
}

/**
 * Writes the new record; otherwise what to answer (ALREADY_EXISTS, or why the store could not
 * say). Returned, not thrown: the name may be another create's, so this create leaves nothing
 * of its own to settle, and a failed operation would have its record settled.
 */
async function claimName(deps: CreateDeps, record: ProcessRecord): Promise<PraaSError | undefined> {
  try {
    if ((await deps.store.createProcess(record)) || (await replaceDeleted(deps, record))) return;
    return new PraaSError("ALREADY_EXISTS", `process ${record.app}/${record.name} already exists`);
  } catch (error) {
    return ensurePraaSError(error);
  }
}

/** A create's end: the process it made, or the answer when the name was not its to take. */
type Outcome = { created: ProcessRecord } | { refused: PraaSError };

/** Whether `record` took the place of one left `deleted` by a delete that did not finish. */
async function replaceDeleted(deps: CreateDeps, record: ProcessRecord): Promise<boolean> {
  const existing = await deps.store.getProcess(record.app, record.name);
  if (existing?.status !== "deleted") return false;
  await finishNow(deps, record.app, record.name);
  return deps.store.createProcess(record);
}

/** The record of a process being created: allocating, with what the body or the app asks. */
function newRecord(
  request: CreateRequest,
  appRecord: AppRecord,
  config: ControlPlaneConfig,
): ProcessRecord {
  const { app, name, body, auto } = request;
  const resources = resolveResources(body, appRecord.defaults, config);
  const limits = resolveProcessLimits(body, appRecord.defaults);
  const durability = body.durability === undefined ? "memory" : parseDurability(body.durability);
  const idleSwapMs =
    body.idleSwap === undefined ? config.idleSwapMs : parseDuration(body.idleSwap, "idleSwap");
  const now = Date.now();
  return {
    app,
    name,
    status: "allocating",
    resources,
    limits,
    durability,
    secret: randomBytes(24).toString("base64url"),
    autoAllocated: auto,
    idleSwapMs,
    createdAt: now,
    updatedAt: now,
    revision: 0,
  };
}

/**
 * Read again now that the process record is written: an application delete that began
 * meanwhile either lists the record or is seen here (see app-delete.ts).
 */
async function stillDeployed(deps: CreateDeps, app: string): Promise<void> {
  if (!(await deps.store.getApp(app)))
    throw new PraaSError("APP_NOT_FOUND", `no application ${app}`);
}

/**
 * A new process must never start from the state of an earlier one of the same name (e.g. a
 * snapshot an orphaned process wrote after its record was deleted, or its write-ahead log):
 * remove any leftover.
 */
async function dropLeftovers(deps: CreateDeps, app: string, name: string): Promise<void> {
  // Both at once: a create waits for them before it starts the process.
  const [snapshot] = await Promise.all([
    deps.blobs.delete(snapshotKey(app, name)),
    deps.backend.deleteLog?.(app, name),
  ]);
  if (snapshot) deps.log.warn({ app, name }, "removed swapped state left by an earlier process");
}
