// A cloud process under `--durability log`, run directly: group commit under 64 concurrent
// writers (counted by the log), restart from the log alone, and refusing a log without a file.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatusReply } from "../../src/protocol/index.js";
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

async function start(name: string, wal: string): Promise<RunningProcess> {
  const args = ["--durability", "log", "--wal", wal];
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

  it("refuses to start with --durability log but no --wal", async () => {
    const failure = await rejection(
      startProcess({ name: "nowal", bundle, blobDir: temp.dir, args: ["--durability", "log"] }),
    );
    expect(failure.code).toBe("BAD_REQUEST");
    expect(failure.message).toMatch(/walPath/);
  });
});
