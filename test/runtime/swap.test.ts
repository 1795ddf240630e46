// State: keys, persistence across invocations, and across a swap-out / swap-in.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FakeControlPlane,
  bundleFixture,
  makeTempDir,
  rejection,
  startProcess,
  text,
  untilNoProcessMatches,
  type RunningProcess,
} from "../helpers/process-harness.js";
import { encodeSnapshot } from "../../src/runtime/snapshot.js";
import { DiskBlobStore } from "../../src/storage/disk-blob-store.js";
import { snapshotV4 } from "../helpers/snapshot-v4.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let control: FakeControlPlane;
let bundle: string;
const started: RunningProcess[] = [];

beforeAll(async () => {
  temp = await makeTempDir("swap");
  control = new FakeControlPlane();
  await control.listen();
  bundle = await bundleFixture("runtime-suite", temp.dir);
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await control?.close();
  await temp?.remove();
});

async function start(name: string, restore = false): Promise<RunningProcess> {
  const proc = await startProcess({
    name,
    bundle,
    blobDir: temp.dir,
    control,
    restore,
    workers: 2,
  });
  started.push(proc);
  return proc;
}

const json = (value: object): string => JSON.stringify(value);

/** Polls the process's own status over the control link (bounded) until it is `status`. */
async function untilStatus(name: string, status: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (((await control.command(name, "status")) as { status: string }).status !== status) {
    if (Date.now() > deadline) throw new Error(`${name} never became ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
const snapshotFile = (name: string): string => path.join(temp.dir, "swaps", "suite", name);

describe("state", () => {
  it("lists keys in first-write order with write times, and deletes", async () => {
    const conn = await (await start("keys")).connect();
    const before = Date.now();
    for (const key of ["first_key", "second_key", "another_key"]) {
      await conn.invoke("stateOps", json({ op: "put", key, value: "" }));
    }
    const listed = JSON.parse(text(await conn.invoke("stateOps", json({ op: "keys" })))) as {
      keys: { key: string; updatedAt: number }[];
    };
    expect(listed.keys.map((k) => k.key)).toEqual(["first_key", "second_key", "another_key"]);
    expect(listed.keys.every((k) => k.updatedAt >= before)).toBe(true);
    await conn.invoke("stateOps", json({ op: "put", key: "first_key", value: "again" }));
    const relisted = JSON.parse(
      text(await conn.invoke("stateOps", json({ op: "keys" }))),
    ) as typeof listed;
    expect(relisted.keys.map((k) => k.key)).toEqual(["first_key", "second_key", "another_key"]);
    expect(relisted.keys[0]!.updatedAt).toBeGreaterThanOrEqual(listed.keys[0]!.updatedAt);
    const get = async (key: string): Promise<unknown> =>
      JSON.parse(text(await conn.invoke("stateOps", json({ op: "get", key })))) as unknown;
    expect(await get("first_key")).toEqual({ value: "again", size: 5 });
    expect(await get("missing")).toEqual({ value: null, size: null });
    expect(
      JSON.parse(text(await conn.invoke("stateOps", json({ op: "delete", key: "second_key" })))),
    ).toEqual({ deleted: true });
    expect(
      JSON.parse(text(await conn.invoke("stateOps", json({ op: "delete", key: "second_key" })))),
    ).toEqual({ deleted: false });
    await conn.close();
  });
});

describe("swap", () => {
  it("swaps out state and undelivered messages, and restores them in a new instance", async () => {
    const first = await start("s1");
    const conn = await first.connect();
    await conn.invoke("add", "5");
    await conn.invoke("add", "7");
    await conn.invoke(
      "stateOps",
      json({ op: "putBytes", key: "big", value: String(3 * 1024 * 1024) }),
    );
    await conn.invoke("send", json({ key: "pending", value: "kept across swap" }));
    const swapped = (await control.command("s1", "swap")) as { size: number };
    expect(swapped.size).toBeGreaterThan(3 * 1024 * 1024);
    expect(await first.exited).toBe(0);
    expect(existsSync(snapshotFile("s1"))).toBe(true);

    const second = await start("s1", true);
    const again = await second.connect();
    expect(text(await again.invoke("add", "1"))).toBe("13");
    expect(
      JSON.parse(text(await again.invoke("stateOps", json({ op: "get", key: "big" })))),
    ).toMatchObject({
      size: 3 * 1024 * 1024,
    });
    expect(text(await again.invoke("receive", json({ key: "pending" })))).toBe("kept across swap");
    // Kept until the control plane has the resumed process active (it deletes it then).
    expect(existsSync(snapshotFile("s1"))).toBe(true);
    await again.close();
  });

  it("refuses to start a restore when no swapped state exists, keeping nothing half-started", async () => {
    await expect(start("never-swapped", true)).rejects.toMatchObject({ code: "STORAGE_ERROR" });
    // Neither the process nor any of its workers (their argv names the process) lives on, it
    // never registered, and it wrote nothing.
    expect(await untilNoProcessMatches("never-swapped")).toEqual([]);
    expect(control.registrations.map((fields) => fields[1])).not.toContain("never-swapped");
    expect(existsSync(snapshotFile("never-swapped"))).toBe(false);
  });

  it("lets running invocations finish before swapping", async () => {
    const proc = await start("s2");
    const conn = await proc.connect();
    const order: string[] = [];
    const running = conn.invoke("sleep", "3000").finally(() => order.push("invocation"));
    await conn.invoke("add", "2");
    const swapped = control.command("s2", "swap").finally(() => order.push("swap"));
    // The swap has begun while the invocation still runs: it is draining, not done already.
    await untilStatus("s2", "swapping");
    expect(order).toEqual([]);
    expect(text(await running)).toBe("slept");
    expect(await swapped).toMatchObject({ size: expect.any(Number) as number });
    expect(order).toEqual(["invocation", "swap"]);
    const restored = await (await start("s2", true)).connect();
    expect(text(await restored.invoke("add", "0"))).toBe("2");
    await restored.close();
  });

  it("stops an invocation that outlives the drain timeout, and still swaps out the state", async () => {
    const proc = await startProcess({
      name: "s3",
      bundle,
      blobDir: temp.dir,
      control,
      drainTimeoutMs: 100,
    });
    started.push(proc);
    const conn = await proc.connect();
    const stuck = rejection(conn.invoke("sleep", "600000"));
    await conn.invoke("add", "3"); // answered by the same worker: the sleep is running by now
    const swapped = control.command("s3", "swap");
    expect(await swapped).toMatchObject({ size: expect.any(Number) as number });
    // The caller is not left hanging, and is not told the call was refused before it ran
    // (UNAVAILABLE): a control plane would send such a call again.
    expect(["CONNECTION_CLOSED", "WORKER_CRASHED"]).toContain((await stuck).code);
    expect(await proc.exited).toBe(0);
    const restored = await (await start("s3", true)).connect();
    expect(text(await restored.invoke("add", "0"))).toBe("3");
    await restored.close();
  });

  it("swaps itself out and exits when the control plane is gone for too long", async () => {
    const lonely = new FakeControlPlane();
    await lonely.listen();
    let lonelyOpen = true;
    try {
      const proc = await startProcess({
        name: "orphan",
        bundle,
        blobDir: temp.dir,
        control: lonely,
        orphanTimeoutMs: 500,
      });
      started.push(proc);
      const conn = await proc.connect();
      await conn.invoke("add", "40");
      await conn.close();
      await lonely.close();
      lonelyOpen = false;
      expect(await proc.exited).toBe(0);
      expect(existsSync(snapshotFile("orphan"))).toBe(true);
      const restored = await (await start("orphan", true)).connect();
      expect(text(await restored.invoke("add", "2"))).toBe("42");
      await restored.close();
    } finally {
      if (lonelyOpen) await lonely.close();
    }
  });

  it("resumes a snapshot swapped out before snapshots had a checksum (version 4)", async () => {
    const value = Buffer.from("stored by version 4 ".repeat(1000));
    const state = [
      { key: "sum", value: Buffer.from("9"), updatedAt: 1 },
      { key: "old", value, updatedAt: 2 },
    ];
    const messages = [{ key: "pending", source: "p0", value: Buffer.from("kept since v4") }];
    const blobs = await DiskBlobStore.open(temp.dir);
    await blobs.put("swaps/suite/legacy", [snapshotV4(state, messages, 1)]);
    const proc = await start("legacy", true);
    const restored = await proc.connect();
    expect(text(await restored.invoke("add", "1"))).toBe("10");
    const got = JSON.parse(
      text(await restored.invoke("stateOps", json({ op: "get", key: "old" }))),
    ) as unknown;
    expect(got).toEqual({ value: value.toString(), size: value.length });
    expect(text(await restored.invoke("receive", json({ key: "pending" })))).toBe("kept since v4");
    await restored.close();
    // Its next swap stores the current version, with a checksum, over the old one.
    await control.command("legacy", "swap");
    expect(await proc.exited).toBe(0);
    expect((await readFile(snapshotFile("legacy"))).readUInt32LE(8)).toBe(5);
    const again = await (await start("legacy", true)).connect();
    expect(text(await again.invoke("add", "0"))).toBe("10");
    await again.close();
  });

  it("an orphan never overwrites the snapshot a newer instance stored: it exits saving nothing", async () => {
    const lonely = new FakeControlPlane();
    await lonely.listen();
    let lonelyOpen = true;
    try {
      const proc = await startProcess({
        name: "stale",
        bundle,
        blobDir: temp.dir,
        control: lonely,
        orphanTimeoutMs: 500,
      });
      started.push(proc);
      const conn = await proc.connect();
      await conn.invoke("add", "40");
      await conn.close();
      // Meanwhile a newer instance of the process (started elsewhere) stored its state.
      const newer = [{ key: "sum", value: Buffer.from("7"), updatedAt: 1 }];
      const blobs = await DiskBlobStore.open(temp.dir);
      await blobs.put(
        "swaps/suite/stale",
        encodeSnapshot(newer, [], undefined, { generation: 1, swapId: "" }),
      );
      const stored = await readFile(snapshotFile("stale"));
      await lonely.close();
      lonelyOpen = false;
      expect(await proc.exited).toBe(0);
      expect((await readFile(snapshotFile("stale"))).equals(stored)).toBe(true);
    } finally {
      if (lonelyOpen) await lonely.close();
    }
  });
});
