// A warm slot's runtime (`main.js --warm`) spawns its workers before it loads the rest of its
// code (src/runtime/slot-spawn.ts). Wrong flags, a signal, or a worker dying in that window are
// each handled as at any other time: a clear failure or a clean exit, nothing left behind.
// Real runtimes and workers.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_PERMISSIONS, PraaSError, parsePermissionList } from "../../src/protocol/index.js";
import { parseWarmFlags } from "../../src/runtime/slot-spawn.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { alive, children } from "../helpers/process-tree.js";

const RUNTIME = path.resolve("dist/runtime/main.js");
const WAIT_MS = 20_000;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => (temp = await makeTempDir("warm-start")));
afterAll(() => temp?.remove());

/** A slot runtime whose sandboxes go under the test's temp dir. */
function startSlot(...flags: string[]): ChildProcess {
  return spawn(process.execPath, [RUNTIME, "--warm", ...flags, "--log-level", "error"], {
    stdio: ["pipe", "pipe", "ignore"],
    env: { TMPDIR: temp.dir },
  });
}

function firstLine(child: ChildProcess): Promise<Record<string, unknown>> {
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    lines.once("line", (line) => resolve(JSON.parse(line) as Record<string, unknown>));
    lines.once("close", () => reject(new Error("no line before stdout closed")));
  });
}

async function until<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The runtime's workers (not the probes its sandbox runs). */
function workersOf(runtime: ChildProcess): number[] {
  return children(runtime.pid!).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("runtime/worker-bundle.js");
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** The first worker the runtime spawned, as soon as there is one. */
function firstWorker(runtime: ChildProcess): Promise<number> {
  return until("a worker", () => workersOf(runtime)[0]);
}

const sandboxesOf = (pid: number): string[] =>
  readdirSync(temp.dir).filter((name) => name.startsWith(`praas-pool-pid${pid}-`));

async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = (await once(child, "exit")) as [number | null];
  return code;
}

describe("warm slot flags", () => {
  it("reads what the launcher passes, with the defaults of a slot", () => {
    expect(parseWarmFlags(["--warm"])).toEqual({
      workers: 1,
      memoryMiB: 512,
      maxPayloadBytes: 64 * 1024 * 1024,
      permissions: NO_PERMISSIONS,
      logLevel: "info",
      ahead: false,
    });
    const flags = ["--warm", "--ahead", "--workers", "3", "--memory", "128", "--allow", "network"];
    expect(parseWarmFlags([...flags, "--owner", "/data", "--max-payload", "1024"])).toMatchObject({
      workers: 3,
      memoryMiB: 128,
      maxPayloadBytes: 1024,
      permissions: { network: true, childProcess: false, workerThreads: false },
      ahead: true,
    });
  });

  it.each([
    [["--warm", "--workers", "0"], /--workers must be a positive integer/],
    [["--warm", "--memory", "1e3"], /--memory must be a positive integer, got "1e3"/],
    [["--warm", "--bundle", "x.mjs"], /bundle/],
    [["--warm", "--allow", "network,toString"], /unknown permission toString/],
  ])("refuses %j as BAD_REQUEST", (argv, message) => {
    const error = (() => {
      try {
        return parseWarmFlags(argv);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(PraaSError);
    expect((error as PraaSError).code).toBe("BAD_REQUEST");
    expect((error as PraaSError).message).toMatch(message);
  });

  it("a permission list names only permissions", () => {
    expect(parsePermissionList("")).toEqual(NO_PERMISSIONS);
    expect(parsePermissionList("childProcess,,workerThreads")).toEqual({
      childProcess: true,
      workerThreads: true,
      network: false,
    });
    expect(() => parsePermissionList("constructor")).toThrow(/unknown permission constructor/);
  });
});

describe("a slot's runtime before its code is loaded", () => {
  it("says why its flags are wrong, and exits 1 with nothing started", async () => {
    const runtime = startSlot("--workers", "none");
    const line = await firstLine(runtime);
    expect(line).toMatchObject({ event: "failed", error: { code: "BAD_REQUEST" } });
    expect(JSON.stringify(line)).toMatch(/--workers must be a positive integer, got \\"none\\"/);
    expect(await exitOf(runtime)).toBe(1);
    expect(sandboxesOf(runtime.pid!)).toEqual([]);
  });

  it("a signal while its workers boot discards the slot: exit 0, no worker or sandbox left", async () => {
    const runtime = startSlot("--workers", "2");
    const worker = await firstWorker(runtime);
    runtime.kill("SIGTERM");
    expect(await exitOf(runtime)).toBe(0);
    await until("the worker gone", () => (alive(worker) ? undefined : true));
    expect(sandboxesOf(runtime.pid!)).toEqual([]);
  });

  it("a worker killed before the slot took it over fails the slot at once, leaving nothing", async () => {
    const runtime = startSlot();
    const failed = firstLine(runtime);
    process.kill(await firstWorker(runtime), "SIGKILL");
    // Not after the 30 s boot timeout: the slot learns of the death it missed.
    expect(await failed).toMatchObject({ event: "failed" });
    expect(await exitOf(runtime)).toBe(1);
    expect(sandboxesOf(runtime.pid!)).toEqual([]);
  });

  it("boots, says warm with its workers' pids, and a closed stdin discards it", async () => {
    const runtime = startSlot("--workers", "2");
    const line = await firstLine(runtime);
    expect(line).toMatchObject({ event: "warm" });
    expect([...(line.workers as number[])].sort()).toEqual(workersOf(runtime).sort());
    expect(sandboxesOf(runtime.pid!)).toHaveLength(1);
    runtime.stdin!.end();
    expect(await exitOf(runtime)).toBe(0);
    expect(sandboxesOf(runtime.pid!)).toEqual([]);
  });
});
