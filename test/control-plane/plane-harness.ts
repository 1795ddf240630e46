/**
 * A real ControlPlane in this test process, on a memory, file or Redis metadata store, with the fake
 * backend. The test keeps its own handle on the same store (a memory peer, or a second Redis
 * client on the same prefix) and on the blob store, to seed records and wait for changes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import type { ControlPlaneOptions } from "../../src/control-plane/config.js";
import type { ControlLinkTimings } from "../../src/control-plane/control-link-server.js";
import { PraaSError, type ProcessStatus } from "../../src/protocol/index.js";
import {
  DiskBlobStore,
  FileMetadataStore,
  MemoryMetadataStore,
  type BlobStore,
  type MetadataStore,
  type ProcessRecord,
} from "../../src/storage/index.js";
import { RedisMetadataStore } from "../../src/storage/redis-metadata-store.js";
import { afterAll, beforeAll } from "vitest";
import { findRedisServer, startRedis, type RedisServer } from "../helpers/redis-server.js";
import { FakeBackend, LogCapture } from "./fake-backend.js";

export const APP = "app";

/**
 * One redis-server for a test file's suites, started before them and stopped after; returns its
 * URL (undefined only when redis-server is missing and skips were allowed).
 */
export function useSuiteRedis(): () => string | undefined {
  const skip = findRedisServer() === undefined && process.env.PRAAS_ALLOW_SKIP === "1";
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    if (!skip) redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return () => redis?.url;
}

export interface StoreTarget {
  kind: "memory" | "file" | "redis";
  /** Redis URL, for kind "redis". */
  url?: string;
}

export interface Harness {
  plane: ControlPlane;
  backend: FakeBackend;
  /** The plane's log. */
  log: LogCapture;
  /** Another handle on the plane's metadata store. */
  store: MetadataStore;
  blobs: BlobStore;
  close(): Promise<void>;
}

export interface HarnessOptions {
  options?: ControlPlaneOptions;
  controlLink?: Partial<ControlLinkTimings>;
  /** Runs on the store and blobs before the control plane starts (a previous replica's records). */
  seed?(store: MetadataStore, blobs: BlobStore): Promise<void>;
  /** Wraps the store the control plane uses (e.g. to make some of its calls fail). */
  wrapStore?(store: MetadataStore): MetadataStore;
}

let prefixes = 0;

export async function startPlane(
  target: StoreTarget,
  setup: HarnessOptions = {},
): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), "praas-cp-"));
  const root = path.join(dir, "blobs");
  const blobs = await DiskBlobStore.open(root);
  const { view, open } = await openStores(target, dir);
  const backend = new FakeBackend(blobs);
  const log = new LogCapture();
  try {
    await seedApp(view, blobs);
    await setup.seed?.(view, blobs);
    const plane = await ControlPlane.start(
      {
        port: 0,
        dataDir: dir,
        blobs: { kind: "disk", root },
        startTimeoutMs: 5_000,
        ...setup.options,
      },
      {
        backend: () => backend,
        metadataStore: async () => {
          const store = await open();
          return setup.wrapStore ? setup.wrapStore(store) : store;
        },
        log: log.logger,
        controlLink: setup.controlLink,
      },
    );
    const close = async (): Promise<void> => {
      await plane.stop();
      await view.close();
      await blobs.close();
      await rm(dir, { recursive: true, force: true });
    };
    return { plane, backend, log, store: view, blobs, close };
  } catch (error) {
    await backend.shutdown();
    await view.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function openStores(
  target: StoreTarget,
  dir: string,
): Promise<{ view: MetadataStore; open: () => Promise<MetadataStore> }> {
  if (target.kind === "memory") {
    const origin = new MemoryMetadataStore();
    return { view: origin, open: () => Promise.resolve(origin.peer()) };
  }
  if (target.kind === "file") {
    const origin = await FileMetadataStore.open(path.join(dir, "metadata"));
    return { view: origin, open: () => Promise.resolve(origin.peer()) };
  }
  const prefix = `cp${process.pid}-${++prefixes}:`;
  const url = target.url ?? "";
  const view = await RedisMetadataStore.open({ url, prefix });
  return { view, open: () => RedisMetadataStore.open({ url, prefix }) };
}

/** The application every test uses: its bundle is a placeholder the fake backend only loads. */
async function seedApp(store: MetadataStore, blobs: BlobStore): Promise<void> {
  const bundleKey = `bundles/${APP}/1`;
  await blobs.put(bundleKey, Buffer.from("export {};\n"));
  const now = Date.now();
  await store.putApp({
    name: APP,
    version: 1,
    functions: ["echo", "set", "get", "hold"],
    bundleKey,
    defaults: {},
    createdAt: now,
    updatedAt: now,
  });
}

/** Resolves when the record reaches `status` (undefined: deleted); rejects after `timeoutMs`. */
export async function waitForRecord(
  store: MetadataStore,
  name: string,
  status: ProcessStatus | undefined,
  timeoutMs = 10_000,
): Promise<ProcessRecord | undefined> {
  let off: (() => Promise<void>) | undefined;
  try {
    return await new Promise<ProcessRecord | undefined>((resolve, reject) => {
      const check = (record: ProcessRecord | undefined): void => {
        if (record?.status === status) resolve(record);
      };
      setTimeout(
        () => reject(new Error(`${name} not ${status ?? "gone"} in ${timeoutMs} ms`)),
        timeoutMs,
      ).unref();
      void store
        .subscribe((change) => {
          if (change.app === APP && change.name === name) check(change.record);
        })
        .then(async (unsubscribe) => {
          off = unsubscribe;
          check(await store.getProcess(APP, name));
        });
    });
  } finally {
    await off?.();
  }
}

/** A promise the test resolves by hand, e.g. to hold an invocation or a swap. */
export function gate(): { promise: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** "ok", or the code of the PraaSError the call failed with. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    return error instanceof PraaSError ? error.code : String(error);
  }
}
