// A cloud process under `--durability log`, run directly: group commit under 64 concurrent
// writers (counted by the log), restart from the log alone, a log on a full disk (a real
// tmpfs), compaction while serving, and refusing a log without a file.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatusReply } from "../../src/protocol/index.js";
import { mountSmallDisk } from "../helpers/small-disk.js";
import {
  FakeControlPlane,
  bundleFixture,
  makeTempDir,
  rejection,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let bundle: string;
let control: FakeControlPlane;
const running: RunningProcess[] = [];

beforeAll(async () => {
  temp = await makeTempDir("durability");
  bundle = await bundleFixture("durable", temp.dir);
  control = new FakeControlPlane();
  await control.listen();
});

afterAll(async () => {
  try {
    for (const proc of running) await proc.stop();
    await control?.close();
  } finally {
    await temp?.remove();
  }
});

async function start(name: string, wal: string, more: string[] = []): Promise<RunningProcess> {
  const args = ["--durability", "log", "--wal", wal, ...more];
  const proc = await startProcess({ name, bundle, blobDir: temp.dir, workers: 2, control, args });
  running.push(proc);
  return proc;
}

describe("a process with a write-ahead log", () => {
  it("group-commits 64 concurrent writers: fewer syncs than writes, every write logged", async () => {
    const wal = path.join(temp.dir, "wal", "g.wal");
    const proc = await start("g", wal);
    const conn = await proc.connect();
    const writers = Array.from({ length: 64 }, (_, i) => conn.invoke("put", `k${i}=${i}`));
    expect((await Promise.all(writers)).map(text)).toEqual(Array(64).fill("ok"));
    const status = (await control.command("g", "status")) as StatusReply;
    expect(status.wal?.appends).toBe(64);
    expect(status.wal?.syncs).toBeLessThan(64);

    // Killed, then started again on the same log without any snapshot: the log is enough.
    proc.child.kill("SIGKILL");
    await proc.exited;
    await conn.close().catch(() => undefined);
    const again = await (await start("g", wal)).connect();
    const state = JSON.parse(text(await again.invoke("dump"))) as Record<string, string>;
    expect(Object.keys(state)).toHaveLength(64);
    expect(state.k63).toBe("63");
    await again.close();
  });

  it("a write the full disk refuses is undone: nobody reads it, later writes work", async () => {
    const disk = await mountSmallDisk("wal-process", 2);
    try {
      const proc = await start("full", path.join(disk.root, "full.wal"));
      const conn = await proc.connect();
      expect(text(await conn.invoke("put", "k=old"))).toBe("ok");
      const refused = await rejection(conn.invoke("put", `k=${"x".repeat(3 * 1024 * 1024)}`));
      expect(refused.code).toBe("STORAGE_ERROR");
      expect(refused.message).toMatch(/write-ahead log/);
      // Every worker, the writer's too, reads the value the log holds.
      const reads = await Promise.all(Array.from({ length: 8 }, () => conn.invoke("get", "k")));
      expect(reads.map(text)).toEqual(Array(8).fill("old"));
      expect(text(await conn.invoke("put", "k2=small"))).toBe("ok");

      proc.child.kill("SIGKILL");
      await proc.exited;
      await conn.close().catch(() => undefined);
      const again = await (await start("full", path.join(disk.root, "full.wal"))).connect();
      const state = JSON.parse(text(await again.invoke("dump"))) as Record<string, string>;
      expect(state).toEqual({ k: "old", k2: "small" });
      await again.close();
      await running.pop()?.stop();
    } finally {
      await disk.unmount();
    }
  });

  it("compacts a growing log into a snapshot while serving; a crash after it loses nothing", async () => {
    const wal = path.join(temp.dir, "wal", "c.wal");
    const proc = await start("c", wal, ["--wal-compact-bytes", "32768"]);
    const conn = await proc.connect();
    const value = "v".repeat(1000);
    for (let round = 0; round < 20; round++) {
      const puts = Array.from({ length: 16 }, (_, i) =>
        conn.invoke("put", `k${i}=${round}${value}`),
      );
      expect((await Promise.all(puts)).map(text)).toEqual(Array(16).fill("ok"));
    }
    const status = (await control.command("c", "status")) as StatusReply;
    expect(status.wal?.appends).toBe(320);
    expect(status.wal?.compactions).toBeGreaterThan(0);
    // 320 KiB were logged; after compaction the log holds only what came since.
    expect(status.wal?.bytes).toBeLessThan(160 * 1024);

    proc.child.kill("SIGKILL");
    await proc.exited;
    await conn.close().catch(() => undefined);
    const again = await (await start("c", wal, ["--restore"])).connect();
    const state = JSON.parse(text(await again.invoke("dump"))) as Record<string, string>;
    expect(Object.keys(state)).toHaveLength(16);
    for (const [, stored] of Object.entries(state)) expect(stored).toBe(`19${value}`);
    await again.close();
  });

  it("refuses to start with --durability log but no --wal", async () => {
    const failure = await rejection(
      startProcess({ name: "nowal", bundle, blobDir: temp.dir, args: ["--durability", "log"] }),
    );
    expect(failure.code).toBe("BAD_REQUEST");
    expect(failure.message).toMatch(/walPath/);
  });
});
