// A swap-out that cannot store its state (a real full disk) loses nothing: the process keeps
// serving with all its state and messages, and a later swap, once there is room, succeeds.
import { readdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FakeControlPlane,
  bundleFixture,
  makeTempDir,
  rejection,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";
import { mountSmallDisk, type SmallDisk } from "../helpers/small-disk.js";

let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
let disk: SmallDisk | undefined;
let control: FakeControlPlane | undefined;
let bundle: string;
const started: RunningProcess[] = [];

beforeAll(async () => {
  temp = await makeTempDir("swap-failure");
  bundle = await bundleFixture("runtime-suite", temp.dir);
  disk = await mountSmallDisk("swap-full", 2);
  control = new FakeControlPlane();
  await control.listen();
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await control?.close();
  await disk?.unmount();
  await temp?.remove();
});

async function start(restore = false): Promise<RunningProcess> {
  const proc = await startProcess({
    name: "full",
    bundle,
    blobDir: disk!.root,
    control: control!,
    restore,
    workers: 2,
  });
  started.push(proc);
  return proc;
}

const json = (value: object): string => JSON.stringify(value);
const parse = (value: string): unknown => JSON.parse(value) as unknown;
const MiB = 1024 * 1024;

describe("swap-out on a full disk", () => {
  it("fails with STORAGE_ERROR (ENOSPC), keeps serving every key, and swaps once there is room", async () => {
    const proc = await start();
    const conn = await proc.connect();
    await conn.invoke("add", "5");
    for (const key of ["a", "b", "c"]) {
      await conn.invoke("stateOps", json({ op: "put", key, value: `value of ${key}` }));
    }
    await conn.invoke("stateOps", json({ op: "putBytes", key: "big", value: String(3 * MiB) }));
    await conn.invoke("send", json({ key: "pending", value: "kept" }));

    const failed = await rejection(control!.command("full", "swap"));
    expect(failed.code).toBe("STORAGE_ERROR");
    expect(failed.message).toContain("ENOSPC");
    // Nothing half-written is left behind, and the process still serves on the same connection.
    expect(await readdir(disk!.root, { recursive: true })).not.toContainEqual(
      expect.stringContaining("~"),
    );
    expect(text(await conn.invoke("add", "1"))).toBe("6");
    for (const key of ["a", "b", "c"]) {
      const got = parse(text(await conn.invoke("stateOps", json({ op: "get", key }))));
      expect(got).toEqual({ value: `value of ${key}`, size: `value of ${key}`.length });
    }
    const big = parse(text(await conn.invoke("stateOps", json({ op: "get", key: "big" }))));
    expect(big).toMatchObject({ size: 3 * MiB });
    expect(proc.child.exitCode).toBeNull();
    // Mailbox deliveries from a peer are accepted again.
    const sender = await startProcess({
      name: "sender",
      bundle,
      blobDir: disk!.root,
      control: control!,
    });
    started.push(sender);
    const address = { host: proc.host, port: proc.port, token: proc.token };
    await control!.command("sender", "peers", [{ name: "full", status: "active", address }]);
    const senderConn = await sender.connect();
    await senderConn.invoke("send", json({ to: "full", key: "late", value: "delivered" }));
    await senderConn.close();
    expect(text(await conn.invoke("receive", json({ key: "late", timeoutMs: 5_000 })))).toBe(
      "delivered",
    );

    // Shrink the state: the next swap fits and the process exits.
    await conn.invoke("stateOps", json({ op: "delete", key: "big" }));
    expect(await control!.command("full", "swap")).toMatchObject({
      size: expect.any(Number) as number,
    });
    expect(await proc.exited).toBe(0);
    await conn.close();

    const restored = await (await start(true)).connect();
    expect(text(await restored.invoke("add", "0"))).toBe("6");
    const a = parse(text(await restored.invoke("stateOps", json({ op: "get", key: "a" }))));
    expect(a).toEqual({ value: "value of a", size: 10 });
    expect(text(await restored.invoke("receive", json({ key: "pending" })))).toBe("kept");
    await restored.close();
  });
});
