// Crash recovery through a real `praas up`: a `log` process killed with SIGKILL comes back with
// every acknowledged write and message (also when its log's tail is torn), and does not come
// back at all when its log is corrupt in the middle; a `memory` one with its last swapped state.
import { readFile, readdir, stat, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessStatus } from "../../src/protocol/index.js";
import type { PraaSError } from "../../src/sdk/index.js";
import { PraaS, type ProcessConnection } from "../../src/sdk/index.js";
import { makeTempDir, text } from "../helpers/process-harness.js";
import { cli, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

const APP = "durable";
let temp: Awaited<ReturnType<typeof makeTempDir>>;
let praas: RunningPraaS;
let client: PraaS;

beforeAll(async () => {
  temp = await makeTempDir("e2e-durable");
  praas = await startPraaS({ dataDir: temp.dir });
  client = new PraaS(praas.url);
  await client.deploy(APP, path.resolve("test/fixtures/apps/durable"));
});

afterAll(async () => {
  await client?.close();
  await praas?.stop();
  await temp?.remove();
});

/** Polls the record until `status` (bounded): the control plane notices a death on its own. */
async function until(name: string, status: ProcessStatus): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const now = (await client.getProcess(APP, name)).status;
    if (now === status) return;
    if (Date.now() > deadline) throw new Error(`${name} is ${now}, not ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** SIGKILLs the cloud process behind `conn` (no handler of its own runs) and waits for `failed`. */
async function crash(name: string, conn: ProcessConnection): Promise<void> {
  const pid = Number(text(await conn.invoke("parentPid")));
  process.kill(pid, "SIGKILL");
  await conn.close().catch(() => undefined);
  await until(name, "failed");
}

async function dump(name: string): Promise<Record<string, string>> {
  const output = await client.invoke(APP, "dump", "", { process: name });
  return JSON.parse(text(output)) as Record<string, string>;
}

async function put(conn: ProcessConnection, key: string, value: string): Promise<void> {
  expect(text(await conn.invoke("put", `${key}=${value}`))).toBe("ok");
}

describe("durability log", () => {
  it("keeps every acknowledged write and message across a SIGKILL during concurrent puts", async () => {
    const proc = await client.createProcess(APP, "d1", { durability: "log", vcpus: 2 });
    expect(proc.info.durability).toBe("log");
    const conn = await proc.connect();
    const pid = Number(text(await conn.invoke("parentPid")));
    for (const value of ["first", "second"]) await conn.invoke("send", `m=${value}`);
    const acknowledged = new Map<string, string>();
    const writes = Array.from({ length: 400 }, (_, i) =>
      conn.invoke("put", `k${i}=v${i}`).then(
        () => {
          acknowledged.set(`k${i}`, `v${i}`);
          // Killed mid-load: later writes are in flight, some acknowledged, some not.
          if (acknowledged.size === 100) process.kill(pid, "SIGKILL");
        },
        () => undefined,
      ),
    );
    await Promise.all(writes);
    expect(acknowledged.size).toBeGreaterThanOrEqual(100);
    await conn.close().catch(() => undefined);
    await until("d1", "failed");

    const recovered = await dump("d1"); // a sticky invocation brings it back
    for (const [key, value] of acknowledged) expect(recovered[key]).toBe(value);
    for (const expected of ["first", "second", ""]) {
      const output = await client.invoke(APP, "receive", "m", { process: "d1" });
      expect(text(output)).toBe(expected);
    }
    const info = (await client.getProcess(APP, "d1")).info;
    expect(info.status).toBe("active");
    expect(info.lastFailure?.reason).toMatch(/exited unexpectedly|control link lost/);
    await client.deleteProcess(APP, "d1");
    await expect(stat(path.join(temp.dir, "wal", APP, "d1.wal"))).rejects.toMatchObject({
      code: "ENOENT",
    });
  });

  it("keeps every acknowledged increment and transaction across a SIGKILL", async () => {
    const proc = await client.createProcess(APP, "d-tx", { durability: "log", vcpus: 2 });
    const conn = await proc.connect();
    const adds = Array.from({ length: 30 }, () => conn.invoke("add"));
    // 30 transactions on the same two keys conflict; one may give up (CONFLICT) after its
    // retries. Only acknowledged ones count, and each must be there whole.
    const moves = await Promise.allSettled(Array.from({ length: 30 }, () => conn.invoke("move")));
    await Promise.all(adds);
    const moved = moves.filter((move) => move.status === "fulfilled").length;
    for (const move of moves)
      if (move.status === "rejected") expect((move.reason as PraaSError).code).toBe("CONFLICT");
    await crash("d-tx", conn);
    const state = await dump("d-tx");
    expect(state.count).toBe("30");
    expect([state.a, state.b]).toEqual([String(-moved), String(moved)]);
  });

  it("keeps a message from a peer it acknowledged across a SIGKILL", async () => {
    const receiver = await client.createProcess(APP, "r1", { durability: "log" });
    const sender = await (await client.createProcess(APP, "s1")).connect();
    expect(text(await sender.invoke("sendTo", "r1:note=from-s1"))).toBe("ok");
    await crash("r1", await receiver.connect());
    const output = await client.invoke(APP, "receive", "note", { process: "r1" });
    expect(text(output)).toBe("from-s1");
    await sender.close();
    await client.deleteProcess(APP, "s1");
    await client.deleteProcess(APP, "r1");
  });

  it("drops a log tail torn mid-record, and logs on after the last whole record", async () => {
    const proc = await client.createProcess(APP, "d2", { durability: "log" });
    let conn = await proc.connect();
    for (const [key, value] of [
      ["a", "1"],
      ["b", "2"],
      ["c", "3"],
    ] as const)
      await put(conn, key, value);
    await crash("d2", conn);
    // As if the last write had been cut by the crash before it was on disk (and acknowledged).
    const wal = path.join(temp.dir, "wal", APP, "d2.wal");
    await truncate(wal, (await stat(wal)).size - 3);

    conn = await (await client.resume(APP, "d2")).connect();
    expect(await dump("d2")).toEqual({ a: "1", b: "2" });
    await put(conn, "d", "4");
    await crash("d2", conn);
    expect(await dump("d2")).toEqual({ a: "1", b: "2", d: "4" });
    const kept = async () =>
      (await readdir(path.dirname(wal))).filter((f) => f.startsWith("d2.wal.torn-"));
    expect(await kept()).toHaveLength(1); // the cut bytes, beside the log
    await client.deleteProcess(APP, "d2");
    expect(await kept()).toEqual([]); // a delete removes them with the log
  });

  it("refuses to come back from a log corrupt in the middle: the caller and the record say why", async () => {
    const proc = await client.createProcess(APP, "d4", { durability: "log" });
    const conn = await proc.connect();
    for (let i = 1; i <= 6; i++) await put(conn, `k${i}`, `v${i}`);
    await crash("d4", conn);
    const wal = path.join(temp.dir, "wal", APP, "d4.wal");
    const bytes = await readFile(wal);
    const second = 12 + 8 + bytes.readUInt32LE(12); // the head, then the first record
    bytes[second + 14]! ^= 0x10; // inside the second of six records
    await writeFile(wal, bytes);

    const reason =
      `write-ahead log ${wal} is corrupt at byte ${second} with intact records after it; ` +
      "not replayed (kept as is)";
    const refused = await client.invoke(APP, "dump", "", { process: "d4" }).then(
      () => undefined,
      (error: unknown) => error as PraaSError,
    );
    expect(refused?.code).toBe("STORAGE_ERROR");
    expect(refused?.message).toBe(reason);
    const info = (await client.getProcess(APP, "d4")).info;
    expect(info.status).toBe("failed");
    expect(info.error).toBe(`resume failed: STORAGE_ERROR: ${reason}`);
    const shown = await cli(["process", "get", APP, "d4", "--url", praas.url]);
    expect(shown.stdout).toContain(reason);
    await expect(client.resume(APP, "d4")).rejects.toMatchObject({ code: "STORAGE_ERROR" });
    expect(await readFile(wal)).toEqual(bytes);
    await client.deleteProcess(APP, "d4");
  });

  it("folds the log into the snapshot at a swap: a crash after a resume loses nothing", async () => {
    const proc = await client.createProcess(APP, "d3", { durability: "log" });
    await put(await proc.connect(), "before", "swap");
    await client.swap(APP, "d3");
    const conn = await (await client.resume(APP, "d3")).connect();
    await put(conn, "after", "resume");
    await crash("d3", conn);
    expect(await dump("d3")).toEqual({ before: "swap", after: "resume" });
    await client.deleteProcess(APP, "d3");
  });
});

describe("choosing durability", () => {
  it("praas process create --durability log sets it; GET and list show it; unknown modes are refused", async () => {
    const args = ["process", "create", APP, "c1", "--url", praas.url];
    const created = await cli([...args, "--durability", "log", "--json"]);
    expect(created.code).toBe(0);
    expect((JSON.parse(created.stdout) as { durability: string }).durability).toBe("log");
    expect((await client.getProcess(APP, "c1")).info.durability).toBe("log");
    const listed = await client.listProcesses(APP);
    expect(listed.active.find((p) => p.name === "c1")?.durability).toBe("log");

    const typo = await cli([...args, "--durability", "disk"]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain("--durability must be one of memory, log");
    const response = await fetch(`${praas.url}/apps/${APP}/processes/c2`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ durability: "disk" }),
    });
    expect(response.status).toBe(400);
    await client.deleteProcess(APP, "c1");
  });
});

describe("durability memory", () => {
  it("comes back after a SIGKILL with its last swapped state", async () => {
    const proc = await client.createProcess(APP, "m1");
    expect(proc.info.durability).toBe("memory");
    await put(await proc.connect(), "a", "1");
    await client.swap(APP, "m1");
    const conn = await (await client.resume(APP, "m1")).connect();
    await put(conn, "b", "2");
    await crash("m1", conn);
    expect(await dump("m1")).toEqual({ a: "1" });
    expect((await client.getProcess(APP, "m1")).info.lastFailure).toBeDefined();
    await client.deleteProcess(APP, "m1");
  });
});
