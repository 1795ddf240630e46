// Two control-plane replicas in this test process on one metadata store (memory peers, or one
// Redis), with fake backends whose processes dial a switch the test can point at either replica
// (what HAProxy's control frontend does for real; test/e2e/replicas.test.ts runs that). A link
// that moves is not a failure, commands follow the link, a process one replica starts may
// register with the other, and a restarted replica does not sweep a peer's processes.
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import {
  DiskBlobStore,
  MemoryMetadataStore,
  type BlobStore,
  type MetadataStore,
  type ProcessRecord,
} from "../../src/storage/index.js";
import { RedisMetadataStore } from "../../src/storage/redis-metadata-store.js";
import { FakeBackend, LogCapture } from "./fake-backend.js";
import { APP, useSuiteRedis, waitForRecord } from "./plane-harness.js";

const redisUrl = useSuiteRedis();
let prefixes = 0;

/** A TCP forwarder whose target the test switches; `drop` cuts the open connections. */
class Switch {
  target = 0;
  readonly #sockets = new Set<net.Socket>();
  readonly #server = net.createServer((socket) => {
    const upstream = net.connect(this.target, "127.0.0.1");
    for (const [a, b] of [
      [socket, upstream],
      [upstream, socket],
    ] as const) {
      this.#sockets.add(a);
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => (this.#sockets.delete(a), b.destroy()));
    }
  });

  listen(): Promise<string> {
    return new Promise((resolve) =>
      this.#server.listen(0, "127.0.0.1", () =>
        resolve(`127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`),
      ),
    );
  }

  drop(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  close(): Promise<void> {
    this.drop();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

interface Replica {
  plane: ControlPlane;
  backend: FakeBackend;
  log: LogCapture;
}

describe.each(["memory", "redis"] as const)("replicas on one %s store", (kind) => {
  let dir: string;
  let blobs: BlobStore;
  let view: MetadataStore;
  let open: () => Promise<MetadataStore>;
  let lines: Switch;
  let switchAt: string;
  let replicas: Replica[];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "praas-replicas-"));
    blobs = await DiskBlobStore.open(path.join(dir, "blobs"));
    if (kind === "memory") {
      const origin = new MemoryMetadataStore();
      view = origin;
      open = () => Promise.resolve(origin.peer());
    } else {
      const options = { url: redisUrl() ?? "", prefix: `rep${process.pid}-${++prefixes}:` };
      view = await RedisMetadataStore.open(options);
      open = () => RedisMetadataStore.open(options);
    }
    await seedApp(view, blobs);
    lines = new Switch();
    switchAt = await lines.listen();
    replicas = [];
  });

  afterEach(async () => {
    for (const replica of replicas) await replica.plane.stop().catch(() => undefined);
    await lines.close();
    await view.close();
    await blobs.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(replicaId: string, reconnectGraceMs = 30_000): Promise<Replica> {
    const backend = new FakeBackend(blobs);
    const log = new LogCapture();
    const plane = await ControlPlane.start(
      {
        port: 0,
        dataDir: dir,
        blobs: { kind: "disk", root: path.join(dir, "blobs") },
        startTimeoutMs: 5_000,
        replicaId,
        advertiseControl: switchAt,
        reconnectGraceMs,
      },
      { backend: () => backend, metadataStore: open, log: log.logger },
    );
    const replica = { plane, backend, log };
    replicas.push(replica);
    return replica;
  }

  /** Resolves once the record names `replica` as holding the link; rejects after 10 s. */
  async function linkedTo(name: string, replica: string): Promise<void> {
    let off: (() => Promise<void>) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${name} not linked to ${replica}`)),
          10_000,
        );
        const check = (record: ProcessRecord | undefined): void => {
          if (record?.replica !== replica) return;
          clearTimeout(timer);
          resolve();
        };
        void view
          .subscribe((change) => {
            if (change.app === APP && change.name === name) check(change.record);
          })
          .then(async (unsubscribe) => {
            off = unsubscribe;
            check(await view.getProcess(APP, name));
          }, reject);
      });
    } finally {
      await off?.();
    }
  }

  it("follows a link that moves to another replica, and forwards commands there", async () => {
    const a = await start("a");
    const b = await start("b");
    lines.target = a.plane.controlPort;
    await a.plane.createProcess(APP, "p", {});
    await linkedTo("p", "a");

    lines.target = b.plane.controlPort;
    lines.drop(); // the process re-dials and lands on b
    await linkedTo("p", "b");
    await a.log.waitFor("control link moved", { name: "p" });
    expect((await view.getProcess(APP, "p"))?.status).toBe("active");
    expect(a.log.find("process failed", { name: "p" })).toHaveLength(0);

    // a holds no link to p: its commands are forwarded to b.
    expect((await a.plane.swapProcess(APP, "p")).status).toBe("swapped");
    // a starts the process again; it registers with b, and a's resume still completes.
    expect((await a.plane.resumeProcess(APP, "p")).status).toBe("active");
    await linkedTo("p", "b");
    const started = a.backend.process("p");
    await a.plane.deleteProcess(APP, "p");
    await waitForRecord(view, "p", undefined);
    expect(started?.status).toBe("stopped"); // told over the link b holds
  });

  it("leaves the processes linked to a live peer alone when a replica restarts", async () => {
    const a = await start("a");
    lines.target = a.plane.controlPort;
    await a.plane.createProcess(APP, "q", {});
    await linkedTo("q", "a");
    // A replica (re)starting later sweeps what was active before it started.
    const c = await start("c", 50);
    await c.log.waitFor("swept processes left by a restart");
    expect((await view.getProcess(APP, "q"))?.status).toBe("active");
    expect(c.log.find("process failed", { name: "q" })).toHaveLength(0);
  });

  it("marks failed a process whose replica is gone and that never registers again", async () => {
    const c = await start("c", 50);
    await c.log.waitFor("swept processes left by a restart");
    // Written after c started, by a replica that then died without a trace (no announcement).
    const now = Date.now();
    await view.createProcess({
      app: APP,
      name: "stranded",
      status: "active",
      resources: { vcpus: 1, memory: 64 },
      secret: "s",
      replica: "ghost",
      createdAt: now,
      updatedAt: now,
      revision: 0,
    });
    const failed = await waitForRecord(view, "stranded", "failed");
    expect(failed?.error).toMatch(/replica ghost is gone/);
  });
});

/** The application the fake processes belong to. */
async function seedApp(store: MetadataStore, blobs: BlobStore): Promise<void> {
  const bundleKey = `bundles/${APP}/1`;
  await blobs.put(bundleKey, Buffer.from("export {};\n"));
  const now = Date.now();
  const app = { name: APP, version: 1, functions: ["echo"], bundleKey, defaults: {} };
  await store.putApp({ ...app, createdAt: now, updatedAt: now });
}
