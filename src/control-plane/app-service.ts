/**
 * Applications: deploy (unpack the tarball, bundle with esbuild, check it loads, store the
 * bundle as a new version), list, describe, delete.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildApplication, unpackTarball, type AppManifest } from "../apps/index.js";
import { PraaSError, type AppInfo } from "../protocol/index.js";
import type { AppRecord, BlobStore, MetadataStore } from "../storage/index.js";
import type { ControlPlaneConfig } from "./config.js";
import { toAppInfo } from "./records.js";

/** Concurrent deploys of one app retry their version compare-and-set at most this often. */
const MAX_VERSION_ATTEMPTS = 50;
/** Unpacked size cap, a multiple of the tarball cap (sources compress well). */
const UNPACK_FACTOR = 8;

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
      const built = await buildApplication(dir);
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
    if (!bytes) throw new PraaSError("STORAGE_ERROR", `application bundle ${key} is missing`);
    return bytes;
  }

  async delete(
    name: string,
    force: boolean,
    deleteProcess: (app: string, proc: string) => Promise<void>,
  ): Promise<void> {
    await this.get(name);
    const processes = await this.#store.listProcesses(name);
    if (processes.length > 0 && !force) {
      throw new PraaSError(
        "INVALID_STATE",
        `application ${name} has ${processes.length} processes; delete them or use ?force=true`,
      );
    }
    for (const proc of processes) await deleteProcess(name, proc.name);
    for (const key of await this.#blobs.list(`apps/${name}/`)) await this.#blobs.delete(key);
    await this.#store.deleteApp(name);
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
    for (let attempt = 0; attempt < MAX_VERSION_ATTEMPTS; attempt++) {
      const previous = await this.#store.getApp(name);
      const now = Date.now();
      const record: AppRecord = {
        name,
        version: (previous?.version ?? 0) + 1,
        functions,
        bundleKey,
        defaults: manifest.defaults,
        env: manifest.env,
        permissions: manifest.permissions,
        serialize: manifest.serialize,
        peerSecret: previous?.peerSecret ?? randomBytes(32).toString("base64url"),
        createdAt: previous?.createdAt ?? now,
        updatedAt: now,
      };
      if (await this.#store.putAppIf(record, previous?.version)) return toAppInfo(record);
    }
    throw new PraaSError("UNAVAILABLE", `application ${name} is being deployed too often; retry`);
  }
}
