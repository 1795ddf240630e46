// A cloud process under `--durability log`, run directly: group commit under 64 concurrent
// writers (counted by the log), restart from the log alone, a torn tail (kept aside) versus a
// log corrupt in the middle (start refused, file untouched), a log on a full disk (a real
// tmpfs), compaction while serving, and refusing a log without a file.
import { readFile, readdir, stat, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatusReply } from "../../src/protocol/index.js";
import { HEAD_BYTES } from "../../src/runtime/wal-records.js";
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

/** Six acknowledged puts (k1=v1 …), one record each, then SIGKILL. */
async function sixWritesThenKill(name: string, wal: string): Promise<void> {
  const proc = await start(name, wal);
  const conn = await proc.connect();
  for (let i = 1; i <= 6; i++) expect(text(await conn.invoke("put", `k${i}=v${i}`))).toBe("ok");
  proc.child.kill("SIGKILL");
  await proc.exited;
  await conn.close().catch(() => undefined);
  running.splice(running.indexOf(proc), 1);
}

/** Where each record of a log starts, by its length fields (up to the first that does not fit). */
function recordStarts(log: Buffer): number[] {
  const starts: number[] = [];
  for (let at = HEAD_BYTES; at + 8 <= log.length; at += 8 + log.readUInt32LE(at)) {
    if (at + 8 + log.readUInt32LE(at) > log.length) break;
    starts.push(at);
  }
  return starts;
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

  it("starts after a torn tail with the records before it, the cut bytes kept beside the log", async () => {
    const wal = path.join(temp.dir, "wal", "torn.wal");
    await sixWritesThenKill("torn", wal);
    const whole = await readFile(wal);
    await truncate(wal, whole.length - 3); // the last append cut short by the crash
    const again = await (await start("torn", wal)).connect();
    const state = JSON.parse(text(await again.invoke("dump"))) as Record<string, string>;
    expect(state).toEqual({ k1: "v1", k2: "v2", k3: "v3", k4: "v4", k5: "v5" });
    await again.close();
    const last = recordStarts(whole).at(-1)!;
    const kept = (await readdir(path.dirname(wal))).filter((f) => f.startsWith("torn.wal.torn-"));
    expect(kept).toHaveLength(1);
    const keptBytes = await readFile(path.join(path.dirname(wal), kept[0]!));
    expect(keptBytes).toEqual(whole.subarray(last, whole.length - 3));
    running.pop()?.child.kill("SIGKILL"); // a stop would wait for the fake plane's swap reply
  });

  it("refuses to start on a log corrupt in the middle, and leaves the log as it was", async () => {
    const wal = path.join(temp.dir, "wal", "corrupt.wal");
    await sixWritesThenKill("corrupt", wal);
    const bytes = await readFile(wal);
    const second = recordStarts(bytes)[1]!;
    bytes[second + 12]! ^= 0x04; // one bit inside the second of six records
    await writeFile(wal, bytes);
    const before = await stat(wal);

    const failure = await rejection(start("corrupt", wal));
    expect(failure.code).toBe("STORAGE_ERROR");
    expect(failure.message).toBe(
      `write-ahead log ${wal} is corrupt at byte ${second} with intact records after it; ` +
        "not replayed (kept as is)",
    );
    expect(await readFile(wal)).toEqual(bytes);
    expect((await stat(wal)).mtimeMs).toBe(before.mtimeMs);
    const beside = await readdir(path.dirname(wal));
    expect(beside.filter((f) => f.startsWith("corrupt.wal."))).toEqual([]);
    // The four records after the damaged one are whole, for a repair to take back.
    expect(recordStarts(bytes).slice(2)).toHaveLength(4);
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
