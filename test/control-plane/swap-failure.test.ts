// Through the control plane: a swap that cannot store the state (a real full disk) answers
// STORAGE_ERROR naming ENOSPC and leaves the process active, serving, with every key; once
// there is room a swap succeeds, and resume brings the state back.
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, rejection, text } from "../helpers/process-harness.js";
import { mountSmallDisk, type SmallDisk } from "../helpers/small-disk.js";

let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
let disk: SmallDisk | undefined;
let plane: ControlPlane | undefined;
let client: PraaS | undefined;

beforeAll(async () => {
  temp = await makeTempDir("cp-swap-failure");
  disk = await mountSmallDisk("cp-swap-full", 2);
  plane = await ControlPlane.start({
    port: 0,
    dataDir: temp.dir,
    blobs: { kind: "disk", root: disk.root },
    logLevel: "warn",
  });
  client = new PraaS(plane.url);
  await client.deploy("suite", "test/fixtures/apps/runtime-suite");
});

afterAll(async () => {
  await client?.close();
  await plane?.stop();
  await disk?.unmount();
  await temp?.remove();
});

const json = (value: object): string => JSON.stringify(value);
const parse = (value: string): unknown => JSON.parse(value) as unknown;
const MiB = 1024 * 1024;

describe("swap through the control plane on a full disk", () => {
  it("fails with STORAGE_ERROR, keeps the process active and serving, then swaps and resumes", async () => {
    const praas = client!;
    const proc = await praas.createProcess("suite", "p1", { vcpus: 1, memory: 256 });
    const conn = await proc.connect();
    await conn.invoke("add", "5");
    await conn.invoke("stateOps", json({ op: "put", key: "small", value: "kept" }));
    await conn.invoke("stateOps", json({ op: "putBytes", key: "big", value: String(3 * MiB) }));

    const failed = await rejection(praas.swap("suite", "p1"));
    expect(failed.code).toBe("STORAGE_ERROR");
    expect(failed.message).toContain("ENOSPC");

    const after = await praas.getProcess("suite", "p1");
    expect(after.status).toBe("active");
    expect(after.info.connection).toEqual(proc.info.connection);
    expect(text(await conn.invoke("add", "1"))).toBe("6"); // the old connection still works
    const fresh = await after.connect();
    const big = parse(text(await fresh.invoke("stateOps", json({ op: "get", key: "big" }))));
    expect(big).toMatchObject({ size: 3 * MiB });
    await fresh.invoke("stateOps", json({ op: "delete", key: "big" }));
    await fresh.close();
    await conn.close();

    expect((await praas.swap("suite", "p1")).status).toBe("swapped");
    expect(existsSync(path.join(disk!.root, "swaps", "suite", "p1"))).toBe(true);
    const resumed = await praas.resume("suite", "p1");
    expect(resumed.status).toBe("active");
    const again = await resumed.connect();
    expect(text(await again.invoke("add", "0"))).toBe("6");
    const small = parse(text(await again.invoke("stateOps", json({ op: "get", key: "small" }))));
    expect(small).toEqual({ value: "kept", size: 4 });
    await again.close();
    // The stored state stays after the resume (the base a crash comes back to) until delete.
    expect(existsSync(path.join(disk!.root, "swaps", "suite", "p1"))).toBe(true);
    await praas.deleteProcess("suite", "p1");
    expect(existsSync(path.join(disk!.root, "swaps", "suite", "p1"))).toBe(false);
  });
});
