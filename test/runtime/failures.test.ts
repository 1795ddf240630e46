// What users rely on when a function misbehaves: the process lives on and says what happened.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PraaSError } from "../../src/protocol/index.js";
import type { ProcessConnection } from "../../src/sdk/index.js";
import {
  bundleFixture,
  makeTempDir,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let proc: RunningProcess;
let conn: ProcessConnection;

beforeAll(async () => {
  temp = await makeTempDir("failures");
  const bundle = await bundleFixture("runtime-suite", temp.dir);
  proc = await startProcess({
    name: "f1",
    bundle,
    blobDir: temp.dir,
    workers: 1,
    memory: 64,
    timeoutMs: 1500,
  });
  conn = await proc.connect();
});

afterAll(async () => {
  await conn?.close();
  await proc?.stop();
  await temp?.remove();
});

const failure = (promise: Promise<unknown>): Promise<PraaSError> =>
  promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error as PraaSError,
  );

/** The worker now serving differs from `before` and answers. */
async function expectReplacedWorker(before: string): Promise<void> {
  const after = text(await conn.invoke("pid"));
  expect(after).not.toBe(before);
  expect(text(await conn.invoke("echo", "alive"))).toBe("alive");
}

describe("worker failures", () => {
  it("fails in-flight invocations with WORKER_CRASHED when a function exits its worker", async () => {
    const before = text(await conn.invoke("pid"));
    const slow = failure(conn.invoke("sleep", "5000"));
    const error = await failure(conn.invoke("exit"));
    expect(error.code).toBe("WORKER_CRASHED");
    expect(error.message).toContain("exited with code 3");
    expect((await slow).code).toBe("WORKER_CRASHED");
    await expectReplacedWorker(before);
  });

  it("reports an uncaught error thrown in a callback", async () => {
    const before = text(await conn.invoke("pid"));
    const error = await failure(conn.invoke("crashLater"));
    expect(error.code).toBe("WORKER_CRASHED");
    expect(error.message).toContain("boom from a timer");
    await expectReplacedWorker(before);
  });

  it("reports a worker that ran out of memory", async () => {
    const before = text(await conn.invoke("pid"));
    const error = await failure(conn.invoke("exhaustMemory"));
    expect(error.code).toBe("WORKER_CRASHED");
    expect(error.message).toContain("out of memory");
    await expectReplacedWorker(before);
  });

  it("times out a function that never returns, kills and replaces its worker", async () => {
    const before = text(await conn.invoke("pid"));
    const error = await failure(conn.invoke("spin"));
    expect(error.code).toBe("TIMEOUT");
    expect(error.message).toContain("1500 ms");
    await expectReplacedWorker(before);
  });

  it("keeps state when a worker dies", async () => {
    const value = Number(text(await conn.invoke("add", "4")));
    await failure(conn.invoke("exit"));
    expect(Number(text(await conn.invoke("add", "1")))).toBe(value + 1);
  });

  it("recurses three levels deep with a single worker", async () => {
    expect(text(await conn.invoke("power", "2,4"))).toBe("16");
  });
});
