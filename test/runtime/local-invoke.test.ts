// ctx.invoke of a function of the same process runs in the calling worker, and behaves as the
// trip through the process did: copies, errors, limits, deadline, metrics, swap drain.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessMetricsReport } from "../../src/protocol/index.js";
import type { ProcessConnection } from "../../src/sdk/index.js";
import {
  FakeControlPlane,
  bundleFixture,
  makeTempDir,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";

const TIMEOUT_MS = 1_500;
const MAX_INFLIGHT = 6;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let control: FakeControlPlane;
let bundle: string;
const started: RunningProcess[] = [];

beforeAll(async () => {
  temp = await makeTempDir("local-invoke");
  control = new FakeControlPlane();
  await control.listen();
  bundle = await bundleFixture("runtime-suite", temp.dir);
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await control?.close();
  await temp?.remove();
});

async function start(name: string, restore = false): Promise<ProcessConnection> {
  const proc = await startProcess({
    name,
    bundle,
    blobDir: temp.dir,
    control,
    restore,
    workers: 2,
    timeoutMs: TIMEOUT_MS,
    args: ["--max-inflight", String(MAX_INFLIGHT)],
  });
  started.push(proc);
  return proc.connect();
}

const json = async (conn: ProcessConnection, fn: string, input?: object): Promise<unknown> =>
  JSON.parse(text(await conn.invoke(fn, input === undefined ? undefined : JSON.stringify(input))));

/** The metrics `process` reported last, once `done` says they are what the test waits for. */
async function untilMetrics(
  process: string,
  done: (metrics: ProcessMetricsReport) => boolean,
): Promise<ProcessMetricsReport> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const batches = control.logBatches.filter((b) => b.process === process);
    const latest = batches.at(-1)?.batch.metrics;
    if (latest !== undefined && done(latest)) return latest;
    if (Date.now() > deadline) throw new Error(`${process} never reported the metrics awaited`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const outcomes = (metrics: ProcessMetricsReport, fn: string): Record<string, number> =>
  metrics.functions.find((f) => f.function === fn)?.outcomes ?? {};

describe("local invocation in the calling worker", () => {
  let conn: ProcessConnection;
  beforeAll(async () => {
    conn = await start("local");
  });
  afterAll(() => conn?.close());

  it("runs the callee in the caller's worker, though another worker is free", async () => {
    const answers = await Promise.all([1, 2, 3, 4].map(() => json(conn, "invokeHere")));
    for (const answer of answers) {
      const { caller, callee } = answer as { caller: string; callee: string };
      expect(callee).toBe(caller);
    }
  });

  it("gives the callee its own copy of the payload and the caller its own result", async () => {
    expect(await json(conn, "invokeIsolated")).toEqual({
      payload: "abc",
      result: "zbc",
      same: false,
    });
  });

  it("hands the caller the error record the process would, without the stack", async () => {
    expect(await json(conn, "invokeFailure", { fn: "fail", payload: "7" })).toEqual({
      code: "FUNCTION_ERROR",
      errorName: "RangeError",
      message: "bad input: 7",
      stack: null,
    });
  });

  it("fails a callee past the deadline with TIMEOUT", async () => {
    // Its caller returns at once: a caller that waited would reach the same deadline first.
    const request = { fn: "sleep", payload: "60000", key: "outcome" };
    expect(text(await conn.invoke("recordOutcome", JSON.stringify(request)))).toBe("started");
    const deadline = Date.now() + 10_000;
    let outcome: unknown;
    while (Date.now() < deadline) {
      outcome = await json(conn, "stateOps", { op: "get", key: "outcome" });
      if ((outcome as { value: unknown }).value !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(outcome).toMatchObject({ value: "TIMEOUT" });
  });

  it("refuses calls past the process's limit of calls in flight", async () => {
    // Each level of the recursion is one more call in flight.
    const failure = await json(conn, "invokeFailure", { fn: "power", payload: "2,10" });
    expect(failure).toMatchObject({ code: "TOO_MANY_REQUESTS" });
    expect(text(await conn.invoke("power", `2,${MAX_INFLIGHT - 2}`))).toBe(
      String(2 ** (MAX_INFLIGHT - 2)),
    );
  });

  it("counts the callee in the process's function metrics", async () => {
    const counted = (m: ProcessMetricsReport): number => outcomes(m, "invokeHere").ok ?? 0;
    const before = outcomes(await untilMetrics("local", (m) => counted(m) >= 4), "pid").ok ?? 0;
    for (let i = 0; i < 3; i++) await json(conn, "invokeHere");
    const after = await untilMetrics("local", (m) => (outcomes(m, "pid").ok ?? 0) >= before + 3);
    expect(after.functions.find((f) => f.function === "pid")?.sum).toBeGreaterThan(0);
  });
});

describe("a worker that dies", () => {
  it("ends the local calls it was running: they fail, and none stays in flight", async () => {
    const conn = await start("dying");
    expect(text(await conn.invoke("localThenExit"))).toBe("started");
    const crashed = (m: ProcessMetricsReport): boolean =>
      (outcomes(m, "sleep").WORKER_CRASHED ?? 0) >= 1 && m.inflight === 0;
    expect((await untilMetrics("dying", crashed)).inflight).toBe(0);
    expect(text(await conn.invoke("echo", "after"))).toBe("after");
    await conn.close();
  });
});

describe("a swap", () => {
  it("waits for a local call its caller did not wait for", async () => {
    const first = await start("detached");
    expect(
      text(await first.invoke("detachedPut", JSON.stringify({ key: "late", waitMs: 500 }))),
    ).toBe("started");
    await control.command("detached", "swap");
    await first.close();
    const again = await start("detached", true);
    expect(await json(again, "stateOps", { op: "get", key: "late" })).toEqual({
      value: "done",
      size: 4,
    });
    await again.close();
  });
});
