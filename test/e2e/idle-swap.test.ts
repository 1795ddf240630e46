// Scale to zero through a real `praas up` and real processes: a process nothing uses for its
// idle time is swapped out by itself and resumes with its state on its next use; an open client
// connection keeps it active; idle time 0 never swaps; auto-allocated processes are listed as
// such and swapped too. "Still active" is always checked at the moment a witness process with a
// longer idle time (created later) was swapped, never after a sleep.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, runProcessesMatching } from "../helpers/process-harness.js";
import { cli, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let praas: RunningPraaS | undefined;
let client: PraaS;

beforeAll(async () => {
  temp = await makeTempDir("e2e-idle");
  // The default idle time applies to processes created without one: the auto-allocated ones.
  praas = await startPraaS({ dataDir: temp.dir, extraArgs: ["--idle-swap", "2s"] });
  client = new PraaS(praas.url);
  await client.deploy("counter", "examples/counter");
});

afterAll(async () => {
  try {
    await client.close();
    await praas?.stop();
  } finally {
    for (const pid of runProcessesMatching(temp.dir)) process.kill(pid, "SIGKILL");
    await temp.remove();
  }
});

/** Polls the API (bounded) until the process reports `status`. */
async function until(name: string, status: string, app = "counter"): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await client.getProcess(app, name)).status !== status) {
    if (Date.now() > deadline) throw new Error(`${name} never became ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function metrics(): Promise<string> {
  return (await fetch(`${praas!.url}/metrics`)).text();
}

async function metricsUntil(pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pattern.test(await metrics())) {
    if (Date.now() > deadline) throw new Error(`metrics never matched ${pattern}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("scale to zero", { timeout: 120_000 }, () => {
  it("swaps an idle process out by itself; the next invocation resumes it with its state", async () => {
    await client.createProcess("counter", "sleepy", { idleSwap: "1s" });
    expect(text(await client.invoke("counter", "add", "5", { process: "sleepy" }))).toBe("5");
    await until("sleepy", "swapped");

    const info = (await client.getProcess("counter", "sleepy")).info;
    expect(info).toMatchObject({ swapReason: "idle", idleSwapMs: 1000 });
    expect(Date.parse(info.idleSince ?? "")).toBeGreaterThan(0);
    // Counted once the swap call returns, a moment after the record says swapped.
    await metricsUntil(/praas_idle_swaps_total\{app="counter"\} [1-9]/);

    expect(text(await client.invoke("counter", "add", "1", { process: "sleepy" }))).toBe("6");
    const resumed = (await client.getProcess("counter", "sleepy")).info;
    expect(resumed.status).toBe("active");
    expect(resumed.swapReason).toBeUndefined();
    await client.deleteProcess("counter", "sleepy");
  });

  it("keeps a process with an open client connection, and one with idle time 0, active", async () => {
    const held = await client.createProcess("counter", "held", { idleSwap: "3s" });
    const conn = await held.connect(); // at once: before its idle time runs out
    try {
      expect(text(await conn.invoke("add", "2"))).toBe("2");
      await client.createProcess("counter", "never", { idleSwap: 0 });
      // A witness with a longer idle time, created after: once it was swapped, "held" and
      // "never" were unused (but for the open connection) for longer than their idle time.
      await client.createProcess("counter", "witness", { idleSwap: "8s" });
      await until("witness", "swapped");
      expect((await client.getProcess("counter", "held")).status).toBe("active");
      expect((await client.getProcess("counter", "never")).info).toMatchObject({
        status: "active",
        idleSwapMs: 0,
      });
      expect(text(await conn.invoke("add", "1"))).toBe("3");
    } finally {
      await conn.close();
    }
    // Closed: nothing holds it any more.
    await until("held", "swapped");
    expect((await client.getProcess("counter", "held")).info.swapReason).toBe("idle");
    for (const name of ["held", "never", "witness"]) await client.deleteProcess("counter", name);
  });

  it("creates with --idle-swap from the CLI and shows why a process was swapped", async () => {
    const env = { PRAAS_URL: praas!.url };
    const created = await cli(["process", "create", "counter", "cli1", "--idle-swap", "1s"], env);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("after 1 s unused");
    expect(
      (await cli(["process", "create", "counter", "x", "--idle-swap", "soon"], env)).code,
    ).toBe(1);
    await until("cli1", "swapped");
    const shown = await cli(["process", "get", "counter", "cli1"], env);
    expect(shown.stdout).toMatch(/swapped:\s+idle \(unused since /);
    await client.deleteProcess("counter", "cli1");
  });

  it("lists auto-allocated processes as such, swaps them when idle and resumes them for the next call", async () => {
    // An application of its own: invocations without a process may use any active one.
    await client.deploy("autocount", "examples/counter");
    const first = await client.invokeDetailed("autocount", "add", "5");
    const auto = first.process ?? "";
    expect(auto).toMatch(/^auto-/);
    const listed = await client.listProcesses("autocount");
    expect(listed.active.find((p) => p.name === auto)).toMatchObject({ auto: true });
    const env = { PRAAS_URL: praas!.url };
    expect((await cli(["process", "ls", "autocount"], env)).stdout).toContain(`${auto} (auto)`);

    await until(auto, "swapped", "autocount"); // praas up --idle-swap 2s
    expect((await client.getProcess("autocount", auto)).info).toMatchObject({
      auto: true,
      swapReason: "idle",
    });
    // The swapped auto process is resumed, not replaced: its state goes on.
    const again = await client.invokeDetailed("autocount", "add", "1");
    expect(again.process).toBe(auto);
    expect(text(again.output)).toBe("6");
    await client.deleteApplication("autocount", { force: true });
  });
});
