// The warm pool of `praas up` (local backend): runtimes started ahead of demand, taken by a
// create or resume that fits, refilled in the background, never reused, and gone with the
// control plane. Real `praas up`, real cloud processes and workers.
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { cp, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { alive, children, descendants } from "../helpers/process-tree.js";
import { startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

const MARKER = "PRAAS_WARM_POOL_TEST_MARKER";
/** The pool's memory class; processes created with it fit, others do not. */
const POOL_MEMORY = 128;
const WAIT_MS = 60_000;

let temp: Awaited<ReturnType<typeof makeTempDir>>;

beforeAll(async () => {
  temp = await makeTempDir("warm-pool");
  process.env[MARKER] = "leaked from the control plane";
});

afterAll(async () => {
  delete process.env[MARKER];
  await temp?.remove();
});

/** The isolation fixture under another name, with its own environment. */
async function appWithEnv(name: string, env: Record<string, string>): Promise<string> {
  const dir = path.join(temp.dir, name);
  await cp(path.resolve("test/fixtures/apps/isolation"), dir, { recursive: true });
  await writeFile(path.join(dir, "praas.json"), JSON.stringify({ env }));
  return dir;
}

async function up(name: string, warmPool: number): Promise<RunningPraaS> {
  return startPraaS({
    dataDir: path.join(temp.dir, name),
    extraArgs: ["--warm-pool", String(warmPool), "--warm-pool-memory", String(POOL_MEMORY)],
  });
}

interface PoolMetrics {
  idle: number;
  takes: number;
  misses: number;
}

async function poolMetrics(url: string): Promise<PoolMetrics> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string): number =>
    Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    idle: value("praas_warm_pool_idle"),
    takes: value("praas_warm_pool_takes_total"),
    misses: value("praas_warm_pool_misses_total"),
  };
}

/** Polls /metrics until `check` holds, bounded by WAIT_MS. */
async function metricsUntil(
  url: string,
  check: (metrics: PoolMetrics) => boolean,
): Promise<PoolMetrics> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const metrics = await poolMetrics(url);
    if (check(metrics)) return metrics;
    if (Date.now() > deadline) throw new Error(`pool metrics stuck at ${JSON.stringify(metrics)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** The runtimes `praas` started (pooled or not, all start as slots). */
function runtimes(praas: RunningPraaS): number[] {
  return children(praas.child.pid!).filter((pid) => commandLine(pid).includes("--warm"));
}

/** Idle pool members (runtimes waiting for an assignment) and their workers' sandbox dirs. */
function idleMembers(praas: RunningPraaS): { pids: number[]; sandboxes: string[] } {
  const members = runtimes(praas);
  const workers = members.flatMap((pid) => descendants(pid));
  const sandboxes = workers.flatMap((pid) => {
    try {
      return [path.dirname(readlinkSync(`/proc/${pid}/cwd`))]; // cwd: the scratch dir
    } catch {
      return [];
    }
  });
  return { pids: [...members, ...workers], sandboxes };
}

interface ProcessCalls {
  functions: string[];
  inflight: number;
}

/** What `/apps/:app/metrics` says of `proc` once `check` holds, bounded by WAIT_MS. */
async function callsUntil(
  url: string,
  app: string,
  proc: string,
  check: (calls: ProcessCalls) => boolean,
): Promise<ProcessCalls> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const body = (await (await fetch(`${url}/apps/${app}/metrics`)).json()) as {
      processes: { process: string; functions: { function: string }[]; inflight?: number }[];
    };
    const report = body.processes.find((p) => p.process === proc);
    const calls = {
      functions: report?.functions.map((f) => f.function) ?? [],
      inflight: report?.inflight ?? 0,
    };
    if (check(calls)) return calls;
    if (Date.now() > deadline) throw new Error(`process calls stuck at ${JSON.stringify(calls)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const json = (bytes: Uint8Array): Record<string, unknown> =>
  JSON.parse(Buffer.from(bytes).toString()) as Record<string, unknown>;

describe("warm pool", () => {
  it("create and resume take a pooled runtime, the pool refills, and the process works", async () => {
    const praas = await up("takes", 1);
    const client = new PraaS(praas.url);
    try {
      expect(praas.announced.warmPool).toEqual({ size: 1, workers: 1, memoryMiB: POOL_MEMORY });
      await client.deploy("counter", path.resolve("examples/counter"));
      await metricsUntil(praas.url, (m) => m.idle === 1);
      const proc = await client.createProcess("counter", "c1", { memory: POOL_MEMORY });
      expect(await poolMetrics(praas.url)).toMatchObject({ takes: 1, misses: 0 });
      await metricsUntil(praas.url, (m) => m.idle === 1); // refilled
      // Started ahead, each compiled all of its code and rehearsed while it waited, not on the
      // first request.
      const started = runtimes(praas).map(commandLine);
      expect(started).toHaveLength(2);
      for (const line of started) expect(line).toMatch(/ --no-lazy .* --warm --ahead /);
      const conn = await proc.connect();
      expect(Buffer.from(await conn.invoke("add", "5")).toString()).toBe("5");
      await conn.close();
      // The slot rehearsed a call before it was taken: none of it shows in the process.
      const calls = await callsUntil(praas.url, "counter", "c1", (c) => c.functions.length > 0);
      expect(calls).toEqual({ functions: ["add"], inflight: 0 });
      await client.swap("counter", "c1");
      const resumed = await client.resume("counter", "c1");
      expect(await poolMetrics(praas.url)).toMatchObject({ takes: 2, misses: 0 });
      const again = await resumed.connect();
      expect(Buffer.from(await again.invoke("add", "7")).toString()).toBe("12");
      await again.close();
      // Another size does not fit: it starts a runtime of its own...
      await client.createProcess("counter", "big", { memory: 256 });
      expect(await poolMetrics(praas.url)).toMatchObject({ takes: 2, misses: 1 });
      // ...and the pool follows it: the next process of that size takes a pooled runtime.
      await metricsUntil(praas.url, (m) => m.idle === 1);
      await client.createProcess("counter", "big2", { memory: 256 });
      expect(await poolMetrics(praas.url)).toMatchObject({ takes: 3, misses: 1 });
    } finally {
      await client.close();
      await praas.stop();
    }
  });

  it("a pooled runtime's workers see only their app's environment and cannot read another app's files", async () => {
    const praas = await up("isolation", 1);
    const client = new PraaS(praas.url);
    try {
      await client.deploy("first", await appWithEnv("first-app", { FIRST_SECRET: "s3cr3t" }));
      await client.deploy("second", await appWithEnv("second-app", { SECOND: "two" }));
      await metricsUntil(praas.url, (m) => m.idle === 1);
      const first = await (
        await client.createProcess("first", "a", { memory: POOL_MEMORY })
      ).connect();
      const scratch = json(await first.invoke("scratch", JSON.stringify({ text: "first's" })));
      const firstEnv = json(await first.invoke("env"));
      expect(firstEnv).toMatchObject({ FIRST_SECRET: "s3cr3t" });
      await first.close();
      await metricsUntil(praas.url, (m) => m.idle === 1 && m.takes === 1);
      const second = await (
        await client.createProcess("second", "b", { memory: POOL_MEMORY })
      ).connect();
      expect(await poolMetrics(praas.url)).toMatchObject({ takes: 2, misses: 0 });
      const env = json(await second.invoke("env"));
      // Node adds NODE_V8_COVERAGE to every child's environment while coverage is measured.
      const names = Object.keys(env).filter((name) => name !== "NODE_V8_COVERAGE");
      expect(names.sort()).toEqual(["SECOND", "TMPDIR"]);
      expect(env.TMPDIR).not.toBe(firstEnv.TMPDIR);
      const firstFiles = [
        String(scratch.file),
        path.join(path.dirname(String(firstEnv.TMPDIR)), "bundle.mjs"),
      ];
      for (const file of firstFiles) {
        const read = json(await second.invoke("read", JSON.stringify({ path: file })));
        expect(read).toMatchObject({ ok: false });
      }
      await second.close();
    } finally {
      await client.close();
      await praas.stop();
    }
  });

  it("stopping the control plane leaves no pooled runtime, worker or sandbox behind", async () => {
    const praas = await up("stop", 2);
    try {
      await metricsUntil(praas.url, (m) => m.idle === 2);
      const idle = idleMembers(praas);
      expect(idle.pids.length).toBe(4); // two runtimes, one worker each
      expect(idle.sandboxes.length).toBe(2);
      for (const dir of idle.sandboxes) expect(existsSync(dir)).toBe(true);
      expect(await praas.stop()).toBe(0);
      expect(idle.pids.filter(alive)).toEqual([]);
      expect(idle.sandboxes.filter((dir) => existsSync(dir))).toEqual([]);
    } finally {
      await praas.stop();
    }
  });

  it("--warm-pool 0 keeps no runtime waiting, and processes start as before", async () => {
    const praas = await up("off", 0);
    const client = new PraaS(praas.url);
    try {
      expect(praas.announced.warmPool).toBeNull();
      expect(idleMembers(praas).pids).toEqual([]);
      await client.deploy("counter", path.resolve("examples/counter"));
      const proc = await client.createProcess("counter", "c1", { memory: POOL_MEMORY });
      const conn = await proc.connect();
      expect(Buffer.from(await conn.invoke("add", "3")).toString()).toBe("3");
      await conn.close();
      expect(await poolMetrics(praas.url)).toEqual({ idle: 0, takes: 0, misses: 0 });
      // Started on the spot, it compiles as it goes: compiling everything first would delay it.
      const [started, ...others] = runtimes(praas).map(commandLine);
      expect(others).toEqual([]);
      expect(started).not.toContain("--no-lazy");
      // Nor does it rehearse its first connection and calls: its assignment is waiting.
      expect(started).toContain(" --warm ");
      expect(started).not.toContain("--ahead");
    } finally {
      await client.close();
      await praas.stop();
    }
  });
});
