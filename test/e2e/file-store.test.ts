// `praas up`'s default metadata store is a file under the data dir: a restart on the same data
// dir (no Redis) keeps applications and processes; processes swapped out by the stop resume
// with their state, ones that outlived a killed control plane reconnect; a second `praas up` on
// the same data dir is refused while the first runs. Cached bundles on disk are reused only
// when their content still matches their key. A process that outlived a killed control plane
// is adopted by the next one: deleting it stops it, and when it dies nothing of its group
// (workers, even one stuck in a loop) lives on.
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseLocalBackendId } from "../../src/backends/local-pids.js";
import { groupMembers, isAlive, procStat } from "../../src/runtime/proc-table.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, runProcessesMatching } from "../helpers/process-harness.js";
import { cli, freePort, startPraaS, untilLinked, type RunningPraaS } from "../helpers/praas-up.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

interface Plane {
  start: () => Promise<{ plane: RunningPraaS; client: PraaS }>;
  dataDir: string;
}

/** A data dir and control port for control planes started one after another; all cleaned up. */
async function withDataDir(body: (plane: Plane) => Promise<void>): Promise<void> {
  const temp = await makeTempDir("e2e-file-store");
  const planes: RunningPraaS[] = [];
  const clients: PraaS[] = [];
  try {
    const controlPort = await freePort();
    await body({
      dataDir: temp.dir,
      start: async () => {
        const plane = await startPraaS({ dataDir: temp.dir, controlPort });
        planes.push(plane);
        const client = new PraaS(plane.url);
        clients.push(client);
        return { plane, client };
      },
    });
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
    await Promise.allSettled(planes.map((plane) => plane.stop()));
    for (const pid of runProcessesMatching(temp.dir)) process.kill(pid, "SIGKILL");
    await temp.remove();
  }
}

async function until(client: PraaS, name: string, status: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await client.getProcess("counter", name)).status !== status) {
    if (Date.now() > deadline) throw new Error(`${name} never became ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The pid of the runtime of a process, as the control plane reports it. */
async function runtimePid(client: PraaS, app: string, name: string): Promise<number> {
  const { backendId = "" } = (await client.getProcess(app, name)).info;
  const pid = parseLocalBackendId(backendId)?.pid;
  if (pid === undefined || !isAlive(pid)) throw new Error(`no runtime of ${name} runs`);
  return pid;
}

/** Its group's members other than the leader (the workers). */
function workersOf(pid: number): number[] {
  return groupMembers(new Set([pid]))
    .map((member) => member.pid)
    .filter((member) => member !== pid);
}

async function untilGroupEmpty(pid: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (groupMembers(new Set([pid])).length > 0) {
    if (Date.now() > deadline)
      throw new Error(`group of ${pid} still runs: ${workersOf(pid).join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Until a worker of `pid` has burnt 0.3 s of CPU: the spin is running. */
async function untilSpinning(pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  const busy = (): boolean => workersOf(pid).some((worker) => cpuTicks(worker) > 30);
  while (!busy()) {
    if (Date.now() > deadline) throw new Error("the spin never started");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function cpuTicks(pid: number): number {
  const stat = procStat(pid);
  if (stat === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]?.split(" ") ?? [];
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0); // utime + stime
}

/** The process answers this control plane over its control link (it re-dialled). */
/** An application whose `spin` never returns (a synchronous loop). */
async function spinnerApp(dataDir: string): Promise<string> {
  const dir = path.join(dataDir, "spinner-app");
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "index.js"), "export function spin() { for (;;); }\n");
  return dir;
}

describe("praas up with the default file store", { timeout: 120_000 }, () => {
  it("keeps apps and processes across a stop and restart; swapped processes resume with their state", async () => {
    await withDataDir(async ({ start, dataDir }) => {
      const first = await start();
      await first.client.deploy("counter", "examples/counter");
      await first.client.createProcess("counter", "kept");
      expect(text(await first.client.invoke("counter", "add", "5", { process: "kept" }))).toBe("5");
      expect(await first.plane.stop()).toBe(0);
      // A cached bundle file that no longer holds the code its key names is not reused.
      const cache = path.join(dataDir, "bundles");
      for (const file of await readdir(cache))
        await writeFile(path.join(cache, file), 'export const add = () => "stale";\n');

      const again = await start();
      expect((await again.client.listApplications()).map((app) => app.name)).toEqual(["counter"]);
      expect((await again.client.getProcess("counter", "kept")).info).toMatchObject({
        status: "swapped",
        swapReason: "shutdown",
      });
      expect(text(await again.client.invoke("counter", "add", "1", { process: "kept" }))).toBe("6");
      await again.client.deleteProcess("counter", "kept");
    });
  });

  it("takes back processes that outlived a killed control plane", async () => {
    await withDataDir(async ({ start }) => {
      const first = await start();
      await first.client.deploy("counter", "examples/counter");
      await first.client.createProcess("counter", "survivor");
      await first.client.invoke("counter", "add", "7", { process: "survivor" });
      await first.plane.kill(); // SIGKILL: its lock file stays behind, naming a dead pid

      const again = await start();
      await until(again.client, "survivor", "active");
      expect(text(await again.client.invoke("counter", "add", "1", { process: "survivor" }))).toBe(
        "8",
      );
      const survivor = await runtimePid(again.client, "counter", "survivor");
      await again.client.deleteProcess("counter", "survivor");
      // The new control plane never spawned it, yet deleting it stops it and its workers.
      await untilGroupEmpty(survivor);
    });
  });

  it("sweeps the whole group of an adopted process that dies, even a worker stuck in a loop", async () => {
    await withDataDir(async ({ start, dataDir }) => {
      const first = await start();
      await first.client.deploy("spinner", await spinnerApp(dataDir));
      await first.client.createProcess("spinner", "stuck", { vcpus: 1 });
      const pid = await runtimePid(first.client, "spinner", "stuck");
      first.client.invoke("spinner", "spin", "", { process: "stuck" }).catch(() => undefined);
      await untilSpinning(pid);
      await first.plane.kill();

      try {
        const again = await start();
        await untilLinked(again.client, "spinner", "stuck");
        process.kill(pid, "SIGKILL"); // its parent is long gone: nobody but the adopter is left
        await untilGroupEmpty(pid);
      } finally {
        for (const worker of workersOf(pid)) process.kill(worker, "SIGKILL");
      }
    });
  });

  it("refuses a second praas up on the same data dir", async () => {
    await withDataDir(async ({ start, dataDir }) => {
      const first = await start();
      const second = await cli(["up", "--port", "0", "--data-dir", dataDir]);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain("in use by another control plane");
      // The first one is unharmed.
      expect(await first.client.listApplications()).toEqual([]);
    });
  });
});
