/**
 * Applications: deploy (unpack the tarball, bundle with esbuild, check it loads, store the
 * bundle as a new version), list, describe, delete.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  APP_ENV_LIMITS,
  buildApplication,
  checkBundleLoads,
  envEntryProblem,
  unpackTarball,
  type AppEnv,
  type AppManifest,
} from "../apps/index.js";
import { NO_PERMISSIONS, PraaSError, ensurePraaSError, type AppInfo } from "../protocol/index.js";
import type { AppRecord, AppVersionRecord, BlobStore, MetadataStore } from "../storage/index.js";
import type { ControlPlaneConfig } from "./config.js";
import { currentVersion, toAppInfo, versionsOf } from "./records.js";
import { deleteApplication } from "./app-delete.js";

/** Concurrent deploys of one app retry their version compare-and-set at most this often. */
const MAX_VERSION_ATTEMPTS = 50;
/** Unpacked size cap, a multiple of the tarball cap (sources compress well). */
const UNPACK_FACTOR = 8;
/** Versions kept for rollback, the current one included. */
export const KEPT_VERSIONS = 10;

/** What a version runs: its code and the settings it was deployed with. */
type Contents = Omit<AppVersionRecord, "version" | "deployedAt">;

function contentsOf(entry: AppVersionRecord): Contents {
  const { bundleKey, functions, defaults, env, permissions, serialize } = entry;
  return { bundleKey, functions, defaults, env, permissions, serialize };
}

/** The kept version `to` names, else the one before the current one. */
function rollbackTarget(current: AppRecord, to: number | undefined): AppVersionRecord {
  const target = to ?? current.version - 1;
  const entry = versionsOf(current).find((candidate) => candidate.version === target);
  if (entry && target !== current.version) return entry;
  throw new PraaSError("BAD_REQUEST", noRollbackTarget(current, to));
}

function noRollbackTarget(current: AppRecord, to: number | undefined): string {
  const kept = `(kept: ${versionsOf(current)
    .map((candidate) => candidate.version)
    .join(", ")})`;
  // Without `to` the user named no version: say there is none before, not "version 0".
  if (to === undefined)
    return `${current.name} has no version before ${current.version} to roll back to ${kept}`;
  const why = to === current.version ? "is the current one" : "is not kept";
  return `version ${to} of ${current.name} ${why} ${kept}`;
}

function nextRecord(
  name: string,
  previous: AppRecord | undefined,
  contents: Contents,
  secrets: AppEnv | undefined = previous?.secrets,
): AppRecord {
  const now = Date.now();
  const version = (previous?.version ?? 0) + 1;
  const entry: AppVersionRecord = { ...contents, version, deployedAt: now };
  const history = [...(previous ? versionsOf(previous) : []), entry].slice(-KEPT_VERSIONS);
  return {
    name,
    version,
    ...contentsOf(entry),
    history,
    peerSecret: previous?.peerSecret ?? randomBytes(32).toString("base64url"),
    ...(secrets === undefined || Object.keys(secrets).length === 0 ? {} : { secrets }),
    createdAt: previous?.createdAt ?? now,
    updatedAt: now,
  };
}

function appOrThrow(name: string, record: AppRecord | undefined): AppRecord {
  if (!record) throw new PraaSError("APP_NOT_FOUND", `no application ${name}`);
  return record;
}

function checkSecret(key: string, value: string): void {
  const problem = envEntryProblem(key, value, "secret");
  if (problem !== undefined) throw new PraaSError("BAD_REQUEST", problem);
}

/** The secrets with `key` set to `value`, or removed (NOT_FOUND when there is none to remove). */
function withSecret(record: AppRecord, key: string, value: string | undefined): AppEnv {
  const secrets = { ...record.secrets };
  if (value === undefined && !(key in secrets))
    throw new PraaSError("NOT_FOUND", `application ${record.name} has no secret ${key}`);
  if (value === undefined) delete secrets[key];
  else secrets[key] = value;
  const total = Object.keys({ ...record.env, ...secrets }).length;
  if (total > APP_ENV_LIMITS.entries)
    throw new PraaSError(
      "BAD_REQUEST",
      `application ${record.name} would have more than ${APP_ENV_LIMITS.entries} environment entries`,
    );
  return secrets;
}

export class AppService {
  readonly #config: ControlPlaneConfig;
  readonly #store: MetadataStore;
  readonly #blobs: BlobStore;

  constructor(config: ControlPlaneConfig, store: MetadataStore, blobs: BlobStore) {
    this.#config = config;
    this.#store = store;
    this.#blobs = blobs;
  }

  async deploy(name: string, tarball: Buffer): Promise<AppInfo> {
    if (tarball.length === 0)
      throw new PraaSError("BAD_REQUEST", "the body must be a gzip tarball of the app directory");
    const dir = await mkdtemp(path.join(tmpdir(), "praas-deploy-"));
    try {
      await unpackTarball(tarball, dir, { maxBytes: this.#config.bodyLimitBytes * UNPACK_FACTOR });
      // A redeploy keeps the secrets, so the new code is checked with them, as it will run.
      const secrets = (await this.#store.getApp(name))?.secrets;
      const built = await buildApplication(dir, secrets ? { secrets } : {});
      return await this.#save(name, built.code, built.functions, built.manifest);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async list(): Promise<AppInfo[]> {
    return (await this.#store.listApps()).map(toAppInfo);
  }

  async get(name: string): Promise<AppInfo> {
    const record = await this.#store.getApp(name);
    if (!record) throw new PraaSError("APP_NOT_FOUND", `no application ${name}`);
    return toAppInfo(record);
  }

  /** A stored bundle of application `name`, for its processes; never another application's. */
  async bundle(name: string, key: string): Promise<Buffer> {
    if (!key.startsWith(`apps/${name}/`) || key.includes(".."))
      throw new PraaSError("BAD_REQUEST", `${key} is not a bundle of application ${name}`);
    const bytes = await this.#blobs.getBytes(key);
    if (bytes) return bytes;
    // Only now, on the error path: which version runs this bundle, for the message.
    const record = await this.#store.getApp(name).catch(() => undefined);
    const entry = record && versionsOf(record).findLast((v) => v.bundleKey === key);
    throw missingBundle(name, entry?.version, key);
  }

  /** See app-delete.ts; `deleteProcess` waits for a process caught mid-operation. */
  delete(
    name: string,
    force: boolean,
    deleteProcess: (app: string, proc: string) => Promise<void>,
  ): Promise<void> {
    const deps = { store: this.#store, blobs: this.#blobs, deleteProcess };
    return deleteApplication(deps, name, force);
  }

  /**
   * Stores the bundle under its content hash (a cache keyed by it can never serve other code,
   * even when versions restart after `apps rm`), then takes the next version by compare-and-set
   * on the app record: concurrent deploys each get their own version, none overwritten unseen.
   */
  async #save(
    name: string,
    code: Buffer,
    functions: string[],
    manifest: AppManifest,
  ): Promise<AppInfo> {
    const bundleKey = `apps/${name}/${createHash("sha256").update(code).digest("hex")}.mjs`;
    await this.#blobs.put(bundleKey, code);
    const { defaults, env, permissions, serialize } = manifest;
    return this.#publish(name, () => ({
      bundleKey,
      functions,
      defaults,
      env,
      permissions,
      serialize,
    }));
  }

  /**
   * Makes an earlier version current again, as a new version running its code and settings
   * (processes move to it as to any new version). Default: the version before the current one.
   */
  async rollback(name: string, to?: number): Promise<AppInfo> {
    return this.#publish(name, (previous) => {
      if (!previous) throw new PraaSError("APP_NOT_FOUND", `no application ${name}`);
      const entry = rollbackTarget(previous, to);
      return { ...contentsOf(entry), rollbackOf: entry.rollbackOf ?? entry.version };
    });
  }

  /** Names of the application's secrets (their values never leave the control plane). */
  async secretNames(name: string): Promise<string[]> {
    const record = await this.#store.getApp(name);
    if (!record) throw new PraaSError("APP_NOT_FOUND", `no application ${name}`);
    return Object.keys(record.secrets ?? {}).sort();
  }

  /**
   * Sets or (value undefined) removes a secret: a new version with the same code and settings,
   * which processes move to as to any version (on upgrade, or when they next start).
   */
  async setSecret(name: string, key: string, value: string | undefined): Promise<AppInfo> {
    if (value !== undefined) checkSecret(key, value);
    await this.#checkLoadsWith(name, key, value);
    return this.#publish(
      name,
      (previous) => contentsOf(currentVersion(appOrThrow(name, previous))),
      (previous) => withSecret(appOrThrow(name, previous), key, value),
    );
  }

  /**
   * The current code must still load with the secret changed, as a deploy must load: a module
   * whose top level insists on it would otherwise fail every process's next start (and the
   * fallback to the version before, which has the same code and also lacks it).
   */
  async #checkLoadsWith(name: string, key: string, value: string | undefined): Promise<void> {
    const record = appOrThrow(name, await this.#store.getApp(name));
    const current = currentVersion(record);
    const env = { ...current.env, ...withSecret(record, key, value) };
    const code = await loadAppBundle(this.#blobs, name, current.version, current.bundleKey);
    await checkBundleLoads(code, { ...NO_PERMISSIONS, ...current.permissions }, env).catch(
      (error: unknown) => {
        const change = value === undefined ? `without secret ${key}` : `with this ${key}`;
        const reason = ensurePraaSError(error).message;
        const message = `version ${current.version} of ${name} would not load ${change}; nothing changed: ${reason}`;
        throw new PraaSError("BUILD_FAILED", message);
      },
    );
  }

  /**
   * Takes the next version by compare-and-set on the app record: concurrent deploys each get
   * their own version, none overwritten unseen. The oldest kept versions fall off the history.
   */
  async #publish(
    name: string,
    contents: (previous: AppRecord | undefined) => Contents,
    secrets?: (previous: AppRecord | undefined) => AppEnv,
  ): Promise<AppInfo> {
    for (let attempt = 0; attempt < MAX_VERSION_ATTEMPTS; attempt++) {
      const previous = await this.#store.getApp(name);
      const record = nextRecord(name, previous, contents(previous), secrets?.(previous));
      if (await this.#store.putAppIf(record, previous?.version)) return toAppInfo(record);
    }
    throw new PraaSError("UNAVAILABLE", `application ${name} is being deployed too often; retry`);
  }
}

/**
 * The bundle a process of `app` (at `version`) runs, from the blob store: the one place it is
 * kept (a backend's cached copy is gone too when this is asked).
 */
export async function loadAppBundle(
  blobs: BlobStore,
  app: string,
  version: number | undefined,
  key: string,
): Promise<Buffer> {
  const bytes = await blobs.getBytes(key);
  if (!bytes) throw missingBundle(app, version, key);
  return bytes;
}

/**
 * Names what is gone and where, so an operator knows it is not the process that failed: its
 * state is untouched, and the bundle put back under `key` (or the app deployed again) fixes it.
 */
function missingBundle(app: string, version: number | undefined, key: string): PraaSError {
  const which =
    version === undefined ? `application ${app}` : `application ${app} version ${version}`;
  return new PraaSError(
    "STORAGE_ERROR",
    `bundle of ${which} is missing from the blob store (${key}); ` +
      "put it back, or deploy the application again",
  );
}
