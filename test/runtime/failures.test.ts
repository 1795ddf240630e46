// What users rely on when a function misbehaves: the process lives on and says what happened.
import { describe, expect, it } from "vitest";
import { rejection, text, useSuiteProcess } from "../helpers/process-harness.js";

// Crashes must be told apart from timeouts however slow the machine is: a timeout far beyond
// any crash for those tests, and a short one only in its own process for the timeout test.
const suite = useSuiteProcess({ name: "f1", workers: 1, memory: 64, timeoutMs: 60_000 });
const SHORT_TIMEOUT_MS = 1500;
const timed = useSuiteProcess({ name: "f2", workers: 1, memory: 64, timeoutMs: SHORT_TIMEOUT_MS });
// Its connection must be served by its worker, not by the process while a worker restarts.
const fresh = useSuiteProcess({ name: "f3", workers: 1, memory: 64, timeoutMs: 60_000 });

/** The worker now serving differs from `before` and answers. */
async function expectReplacedWorker(before: string, on = suite): Promise<void> {
  const after = text(await on.conn.invoke("pid"));
  expect(after).not.toBe(before);
  expect(text(await on.conn.invoke("echo", "alive"))).toBe("alive");
}

describe("worker failures", () => {
  it("fails in-flight invocations with WORKER_CRASHED when a function exits its worker", async () => {
    const before = text(await suite.conn.invoke("pid"));
    const slow = rejection(suite.conn.invoke("sleep", "50000"));
    const error = await rejection(suite.conn.invoke("exit"));
    expect(error.code).toBe("WORKER_CRASHED");
    expect(error.message).toContain("exited with code 3");
    expect((await slow).code).toBe("WORKER_CRASHED");
    await expectReplacedWorker(before);
  });

  it("reports an uncaught error thrown in a callback", async () => {
    const before = text(await suite.conn.invoke("pid"));
    const error = await rejection(suite.conn.invoke("crashLater"));
    expect(error.code).toBe("WORKER_CRASHED");
    expect(error.message).toContain("boom from a timer");
    await expectReplacedWorker(before);
  });

  it("reports a worker that ran out of memory", async () => {
    const before = text(await suite.conn.invoke("pid"));
    const error = await rejection(suite.conn.invoke("exhaustMemory"));
    expect(error.code).toBe("OUT_OF_MEMORY");
    expect(error.message).toContain("out of memory");
    await expectReplacedWorker(before);
  });

  it("reports a worker that aborted with memory to spare as crashed, not out of memory", async () => {
    const before = text(await suite.conn.invoke("pid"));
    const error = await rejection(suite.conn.invoke("abort"));
    expect(error.code).toBe("WORKER_CRASHED");
    expect(error.message).toContain("SIGABRT");
    await expectReplacedWorker(before);
  });

  it("times out a function that never returns, kills and replaces its worker", async () => {
    const before = text(await timed.conn.invoke("pid"));
    const error = await rejection(timed.conn.invoke("spin"));
    expect(error.code).toBe("TIMEOUT");
    expect(error.message).toContain(`${SHORT_TIMEOUT_MS} ms`);
    await expectReplacedWorker(before, timed);
  });

  it("fails a call its worker read but died before it ran with WORKER_CRASHED, without waiting", async () => {
    const before = text(await fresh.conn.invoke("pid"));
    expect(text(await fresh.conn.invoke("exitOnVanish"))).toBe("armed");
    const started = Date.now();
    const error = await rejection(fresh.conn.invoke("vanish"));
    expect(error.code).toBe("WORKER_CRASHED");
    expect(Date.now() - started).toBeLessThan(5000);
    await expectReplacedWorker(before, fresh);
  });

  it("keeps state when a worker dies", async () => {
    const value = Number(text(await suite.conn.invoke("add", "4")));
    await rejection(suite.conn.invoke("exit"));
    expect(Number(text(await suite.conn.invoke("add", "1")))).toBe(value + 1);
  });

  it("recurses three levels deep with a single worker", async () => {
    expect(text(await suite.conn.invoke("power", "2,4"))).toBe("16");
  });
});
