import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileMetadataStore, openMetadataStore } from "../../src/storage/index.js";
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

describe("FileMetadataStore", () => {
  let root = "";
  let dirs = 0;
  const freshDir = (): string => path.join(root, `store${++dirs}`);

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "praas-file-store-"));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  // A fresh directory per test; the first open takes the lock, the others are its peers.
  metadataStoreConformance("FileMetadataStore", () => {
    const dir = freshDir();
    let first: FileMetadataStore | undefined;
    return {
      open: async () => (first ? first.peer() : (first = await FileMetadataStore.open(dir))),
    };
  });

  it("keeps apps, processes and the cluster secret across close and reopen", async () => {
    const dir = freshDir();
    const store = await FileMetadataStore.open(dir);
    await store.putApp(app);
    await store.createProcess(process1);
    const updated = await store.updateProcess("counter", "p1", 1, { status: "swapped" });
    const secret = await store.clusterSecret();
    await store.close();

    const again = await FileMetadataStore.open(dir);
    try {
      expect(await again.listApps()).toEqual([app]);
      expect(await again.getProcess("counter", "p1")).toEqual(updated);
      expect(await again.clusterSecret()).toBe(secret);
    } finally {
      await again.close();
    }
  });

  it("refuses a second store on a locked directory with UNAVAILABLE until the first closes", async () => {
    const dir = freshDir();
    const store = await FileMetadataStore.open(dir);
    await expect(FileMetadataStore.open(dir)).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringContaining("in use by another control plane") as string,
    });
    await store.close();
    const again = await FileMetadataStore.open(dir);
    await again.close();
  });

  it("takes over a lock whose holder is gone", async () => {
    const dir = freshDir();
    await (await FileMetadataStore.open(dir)).close();
    const gone = spawnSync(process.execPath, ["-e", "process.exit(0)"]).pid;
    await writeFile(path.join(dir, "lock"), `${gone}\n${hostname()}\n`);
    const store = await FileMetadataStore.open(dir);
    try {
      expect(await readFile(path.join(dir, "lock"), "utf8")).toContain(String(process.pid));
    } finally {
      await store.close();
    }
  });

  it("keeps every acknowledged change when the control plane dies without closing", async () => {
    const dir = freshDir();
    // A real crash: another Node process makes the changes and is SIGKILLed, holding the lock.
    const script = `
      const { FileMetadataStore } = await import(${JSON.stringify(path.resolve("dist/storage/index.js"))});
      const store = await FileMetadataStore.open(${JSON.stringify(dir)});
      await store.putApp(${JSON.stringify(app)});
      for (let i = 0; i < 50; i++)
        await store.createProcess({ ...${JSON.stringify(process1)}, name: "p" + i });
      await store.updateProcess("counter", "p7", 1, { status: "swapped" });
      await store.deleteProcess("counter", "p9");
      process.kill(process.pid, "SIGKILL");`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script]);
    expect(child.signal).toBe("SIGKILL");
    // Each change was one line in the log; the snapshot still holds only the new secret.
    expect((await stat(path.join(dir, "records.log"))).size).toBeGreaterThan(0);
    expect(await readFile(path.join(dir, "records.json"), "utf8")).not.toContain('"p7"');
    const again = await FileMetadataStore.open(dir);
    try {
      expect(await again.listApps()).toEqual([app]);
      const names = (await again.listProcesses("counter")).map((p) => p.name);
      expect(names).toHaveLength(49);
      expect(names).not.toContain("p9");
      expect(await again.getProcess("counter", "p7")).toMatchObject({
        status: "swapped",
        revision: 2,
      });
    } finally {
      await again.close();
    }
    // A clean close folds the log into the snapshot.
    expect((await stat(path.join(dir, "records.log"))).size).toBe(0);
    expect(await readFile(path.join(dir, "records.json"), "utf8")).toContain('"p7"');
  });

  it("folds the log into the snapshot once it outgrows it, and reads both back", async () => {
    const dir = freshDir();
    const store = await FileMetadataStore.open(dir);
    const functions = Array.from({ length: 1000 }, (_, i) => `function${i}`);
    try {
      // About 15 KB a line: 1 MiB of log after some 70 versions.
      for (let version = 1; version <= 100; version++)
        await store.putApp({ ...app, version, functions });
      const log = path.join(dir, "records.log");
      const deadline = Date.now() + 10_000;
      while ((await stat(log)).size > 1024 * 1024 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await stat(log)).size).toBeLessThan(1024 * 1024);
      expect(await readFile(path.join(dir, "records.json"), "utf8")).toContain('"version":');
    } finally {
      await store.close();
    }
    const again = await FileMetadataStore.open(dir);
    try {
      expect((await again.getApp("counter"))?.version).toBe(100);
    } finally {
      await again.close();
    }
  });

  it("drops a log line cut short by a crash, and refuses a damaged one before the end", async () => {
    const dir = freshDir();
    const store = await FileMetadataStore.open(dir);
    await store.putApp(app);
    await store.close();
    const log = path.join(dir, "records.log");
    await writeFile(log, `${JSON.stringify({ process: process1 })}\n{"process":{"app":"coun`);
    const again = await FileMetadataStore.open(dir);
    try {
      expect(await again.getProcess("counter", "p1")).toEqual(process1);
      await again.putApp({ ...app, version: 2 }); // written on a clean line
    } finally {
      await again.close();
    }
    const third = await FileMetadataStore.open(dir);
    try {
      expect((await third.getApp("counter"))?.version).toBe(2);
    } finally {
      await third.close();
    }
    await writeFile(log, `{"process":\n${JSON.stringify({ deleteApp: "counter" })}\n`);
    await expect(FileMetadataStore.open(dir)).rejects.toMatchObject({ code: "STORAGE_ERROR" });
  });

  it("reports a damaged records file as STORAGE_ERROR instead of starting empty", async () => {
    const dir = freshDir();
    await (await FileMetadataStore.open(dir)).close();
    await writeFile(path.join(dir, "records.json"), "{not json");
    await expect(FileMetadataStore.open(dir)).rejects.toMatchObject({ code: "STORAGE_ERROR" });
    // The failed open released its lock: a repaired directory opens.
    await rm(path.join(dir, "records.json"));
    await (await FileMetadataStore.open(dir)).close();
  });
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

  // Notices sent while the subscriber was disconnected are lost: the subscription is told so
  // once it listens again, and notices flow after that.
  it("tells a subscription of a gap once its subscriber reconnected", async () => {
    const restarted = await startRedis();
    const port = restarted.port;
    const store = await RedisMetadataStore.open({ url: restarted.url });
    let server: RedisServer | undefined = restarted;
    try {
      let gaps = 0;
      const changes: string[] = [];
      await store.subscribe(
        (change) => changes.push(change.name),
        () => gaps++,
      );
      await store.putApp(app);
      await server.stop();
      server = await startRedis({ port });
      await until(() => gaps === 1);
      await store.putApp(app); // Redis came back empty
      await store.createProcess(process1);
      await until(() => changes.includes(process1.name));
      expect(gaps).toBe(1);
    } finally {
      await store.close();
      await server?.stop();
    }
  });

  // A hung Redis (here: every client paused) must not hold a health probe for the 5 s command
  // timeout: the probe answers at its own bound, and the next one after Redis answers is fine.
  it("fails a health ping at its bound while Redis hangs, and answers again after", async () => {
    const PAUSE_MS = 2_000;
    const hung = await startRedis();
    const store = await RedisMetadataStore.open({ url: hung.url });
    const admin = new Redis(hung.url);
    try {
      await store.ping(500);
      // Redis ends the pause itself (an UNPAUSE would wait behind it too).
      await admin.call("CLIENT", "PAUSE", String(PAUSE_MS), "ALL");
      const started = Date.now();
      const probes = [store.ping(300), store.ping(300)];
      for (const probe of probes) {
        await expect(probe).rejects.toMatchObject({
          code: "UNAVAILABLE",
          message: expect.stringMatching(/no reply to PING within 300 ms/) as unknown,
        });
      }
      // Answered at the probe's bound, not when Redis came back.
      expect(Date.now() - started).toBeLessThan(PAUSE_MS - 500);
      await expect(store.ping(PAUSE_MS + 5_000)).resolves.toBeUndefined();
    } finally {
      admin.disconnect();
      await store.close();
      await hung.stop();
    }
  });
});

describe("openMetadataStore", () => {
  it("opens a file store under the given directory", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "praas-open-file-"));
    try {
      const store = await openMetadataStore({ kind: "file", dir });
      expect(store.kind).toBe("file");
      await store.putApp(app);
      await store.close();
      expect(await readFile(path.join(dir, "records.json"), "utf8")).toContain('"counter"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("opens an in-memory store", async () => {
    const store = await openMetadataStore({ kind: "memory" });
    expect(store.kind).toBe("memory");
    await store.putApp(app);
    expect(await store.getApp("counter")).toEqual(app);
  });
});

/** Polls `done` (bounded: ioredis re-dials at most every second). */
async function until(done: () => boolean, boundMs = 15_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not done within ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
