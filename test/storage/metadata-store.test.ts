import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openMetadataStore } from "../../src/storage/index.js";
import { MemoryMetadataStore } from "../../src/storage/memory-metadata-store.js";
import { RedisMetadataStore } from "../../src/storage/redis-metadata-store.js";
import { findRedisServer, startRedis } from "../helpers/redis-server.js";
import type { AppRecord, ProcessRecord } from "../../src/storage/metadata-store.js";
import type { RedisServer } from "../helpers/redis-server.js";
import { metadataStoreConformance } from "./metadata-store.conformance.js";

const app: AppRecord = {
  name: "counter",
  version: 1,
  functions: ["add"],
  bundleKey: "bundles/counter/1",
  defaults: {},
  createdAt: 1,
  updatedAt: 1,
};

const process1: ProcessRecord = {
  app: "counter",
  name: "p1",
  status: "active",
  resources: { vcpus: 1, memory: 64 },
  secret: "s",
  createdAt: 1,
  updatedAt: 1,
  revision: 1,
};

// Every instance is a peer of one origin: they share records and subscribers.
metadataStoreConformance("MemoryMetadataStore", () => {
  const origin = new MemoryMetadataStore();
  return { open: () => Promise.resolve(origin.peer()) };
});

// Without redis-server the Redis suite fails loudly, unless skipping is explicitly allowed.
const skipRedis = findRedisServer() === undefined && process.env.PRAAS_ALLOW_SKIP === "1";

describe.skipIf(skipRedis)("RedisMetadataStore on a real redis-server", () => {
  let server: RedisServer | undefined;
  let backings = 0;

  beforeAll(async () => {
    server = await startRedis();
  });

  afterAll(async () => {
    await server?.stop();
  });

  // One server for the suite; a fresh key prefix makes a fresh, empty backing per test.
  metadataStoreConformance("RedisMetadataStore", () => {
    const prefix = `test${++backings}:`;
    return { open: () => RedisMetadataStore.open({ url: server!.url, prefix }) };
  });

  it("keeps the documented key layout under the default prefix", async () => {
    const store = await openMetadataStore({ kind: "redis", url: server!.url });
    const raw = new Redis(server!.url);
    try {
      await store.putApp({ ...app, name: "layout" });
      await store.createProcess({ ...process1, app: "layout" });
      expect(JSON.parse((await raw.hget("praas:apps", "layout")) ?? "null")).toMatchObject({
        name: "layout",
      });
      const stored = JSON.parse((await raw.hget("praas:proc:layout", "p1")) ?? "null") as object;
      expect(stored).toMatchObject({ app: "layout", name: "p1", revision: 1 });
    } finally {
      raw.disconnect();
      await store.close();
    }
  });
});

describe("openMetadataStore", () => {
  it("opens an in-memory store", async () => {
    const store = await openMetadataStore({ kind: "memory" });
    expect(store.kind).toBe("memory");
    await store.putApp(app);
    expect(await store.getApp("counter")).toEqual(app);
  });
});
