/**
 * Starting a process (for a create or a resume) and recording it active once it registered
 * over its control link; a start that fails leaves nothing running and its record undone.
 */
import { randomBytes } from "node:crypto";
import { NO_PERMISSIONS, PraaSError, type ProcessStatus } from "../../protocol/index.js";
import type { ProcessSpec } from "../../backends/index.js";
import type { AppRecord, ProcessRecord } from "../../storage/index.js";
import { loadAppBundle } from "../app-service.js";
import { versionsOf } from "../records.js";
import { transition } from "../lifecycle.js";
import type { Registrations } from "../registrations.js";
import type { ManagerDeps } from "./deps.js";
import { connectionOf } from "./patches.js";

export type LaunchDeps = Pick<
  ManagerDeps,
  "config" | "store" | "blobs" | "backend" | "cluster" | "controlAddress"
>;

/** What a started process adds to its record. */
type Started = Pick<ProcessRecord, "connection" | "backendId" | "replica" | "version">;

export class Launcher {
  readonly #deps: LaunchDeps;
  readonly #registrations: Registrations;

  constructor(deps: LaunchDeps, registrations: Registrations) {
    this.#deps = deps;
    this.#registrations = registrations;
  }

  /**
   * Starts the process on its application's current version, or on `version` (a kept one) when
   * given, and records it active; on failure, stops what started and runs `undo`.
   */
  async activate(
    record: ProcessRecord,
    from: ProcessStatus,
    restore: boolean,
    undo: (error: unknown) => Promise<void>,
    version?: number,
  ): Promise<ProcessRecord> {
    const { app, name } = record;
    let started: Started | undefined;
    try {
      started = await this.#launch(record, restore, version);
      return await transition(this.#deps.store, app, name, [from], "active", {
        ...started,
        error: undefined,
        swapReason: undefined,
        idleSince: undefined,
      });
    } catch (error) {
      // A process that started but is not ours to keep (e.g. the record moved on) must not run.
      if (started?.backendId)
        await this.#deps.backend.stop(started.backendId).catch(() => undefined);
      await undo(error);
      throw error;
    }
  }

  async #launch(record: ProcessRecord, restore: boolean, version?: number): Promise<Started> {
    const { config, store, blobs, backend } = this.#deps;
    const current = await store.getApp(record.app);
    if (!current) throw new PraaSError("APP_NOT_FOUND", `no application ${record.app}`);
    const appRecord = version === undefined ? current : atVersion(current, version);
    const token = randomBytes(24).toString("base64url");
    const waiting = this.#registrations.expect(
      record.app,
      record.name,
      token,
      config.startTimeoutMs,
    );
    try {
      const started = await backend.start({
        ...this.#spec(record, token, restore),
        ...applicationSpec(appRecord),
        bundleKey: appRecord.bundleKey,
        loadBundle: () =>
          loadAppBundle(blobs, appRecord.name, appRecord.version, appRecord.bundleKey),
      });
      const registration = await waiting.registered.catch(async (error: unknown) => {
        await backend.stop(started.backendId); // it never registered: nobody could manage it
        throw error;
      });
      return {
        backendId: started.backendId,
        version: appRecord.version,
        connection: connectionOf(registration, token),
        replica: registration.replica ?? this.#deps.cluster.id,
      };
    } finally {
      waiting.cancel();
    }
  }

  #spec(record: ProcessRecord, token: string, restore: boolean) {
    const { config } = this.#deps;
    return {
      app: record.app,
      name: record.name,
      vcpus: record.resources.vcpus,
      memoryMiB: record.resources.memory,
      token,
      secret: record.secret,
      restore,
      controlAddress: this.#deps.controlAddress(),
      invocationTimeoutMs: config.invocationTimeoutMs,
      limits: { ...record.limits },
      durability: record.durability ?? "memory",
      maxPayloadBytes: config.bodyLimitBytes,
      reach: config.processReach,
      idleSwapMs: record.idleSwapMs ?? config.idleSwapMs,
      errorStacks: config.errorStacks,
    };
  }
}

/**
 * The application as it was at a kept `version`: that version's code and settings, with what is
 * not versioned (secrets, peer secret) as it is now.
 */
function atVersion(app: AppRecord, version: number): AppRecord {
  const entry = versionsOf(app).find((kept) => kept.version === version);
  if (!entry)
    throw new PraaSError("BAD_REQUEST", `version ${version} of ${app.name} is no longer kept`);
  const { bundleKey, functions, defaults, env, permissions, serialize } = entry;
  return { ...app, version, bundleKey, functions, defaults, env, permissions, serialize };
}

/** What every process of the application gets: its environment, permissions and peer secret. */
function applicationSpec(
  app: AppRecord,
): Pick<ProcessSpec, "appEnv" | "permissions" | "peerSecret" | "serialize"> {
  return {
    appEnv: { ...app.env, ...app.secrets },
    permissions: { ...NO_PERMISSIONS, ...app.permissions },
    serialize: app.serialize ?? false,
    peerSecret: app.peerSecret,
  };
}
