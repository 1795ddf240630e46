// Workers never outlive their process: not even one stuck in a synchronous loop when the
// process is killed with SIGKILL (no exit handler of its own can run then).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bundleFixture,
  makeTempDir,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";
import { alive } from "../helpers/process-tree.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let bundle: string;
let spawner: string;

beforeAll(async () => {
  temp = await makeTempDir("worker-group");
  bundle = await bundleFixture("runtime-suite", temp.dir);
  spawner = await bundleFixture("spawner", temp.dir);
});

afterAll(async () => {
  await temp?.remove();
});

/** Polls (bounded) until `pid` has been running on a CPU (state R) for 10 polls in a row. */
async function spinning(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let running = 0; running < 10;) {
    if (Date.now() > deadline) throw new Error(`worker ${pid} never spun`);
    const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
    running = state === "R" ? running + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Polls (bounded) until `pid` is gone. */
async function gone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

describe("a worker spinning forever", () => {
  it("dies with its process when the process is SIGKILLed", async () => {
    const proc = await startProcess({ name: "spinner", bundle, blobDir: temp.dir, workers: 1 });
    const conn = await proc.connect();
    const workerPid = Number(text(await conn.invoke("pid", "")));
    expect(alive(workerPid)).toBe(true);
    try {
      const spin = conn.invoke("spin", "").catch(() => "ended");
      await spinning(workerPid);
      proc.child.kill("SIGKILL");
      await proc.exited;
      expect(await gone(workerPid)).toBe(true);
      expect(await spin).toBe("ended");
    } finally {
      if (alive(workerPid)) process.kill(workerPid, "SIGKILL");
      await conn.close();
    }
  });

  const stopped = async (proc: RunningProcess): Promise<void> => proc.stop();
  const killed = async (proc: RunningProcess): Promise<void> => {
    proc.child.kill("SIGKILL");
    await proc.exited;
  };

  /** Starts a sleeper through `fn` of a fresh process, ends the process, checks the sleeper died. */
  async function sleeperDiesWithProcess(
    name: string,
    fn: string,
    end: (proc: RunningProcess) => Promise<void> = stopped,
  ): Promise<void> {
    const proc = await startProcess({
      name,
      bundle: spawner,
      blobDir: temp.dir,
      permissions: { childProcess: true },
    });
    const conn = await proc.connect();
    const sleeperPid = Number(text(await conn.invoke(fn, "")));
    try {
      expect(alive(sleeperPid)).toBe(true);
      await end(proc);
      expect(await gone(sleeperPid)).toBe(true);
    } finally {
      if (alive(sleeperPid)) process.kill(sleeperPid, "SIGKILL");
      await conn.close();
    }
  }

  it("a process a function started dies when its cloud process stops", async () => {
    await sleeperDiesWithProcess("parent", "startSleeper");
  });

  // Workers run as a uid of their own when we are root: what they start keeps it, even in a
  // session of its own, outside the process group.
  const asRoot = process.getuid?.() === 0;

  it.runIf(asRoot)(
    "a process a function started in its own session dies when its cloud process stops",
    async () => {
      await sleeperDiesWithProcess("detacher", "startDetachedSleeper");
    },
  );

  it.runIf(asRoot)(
    "a process a function started in its own session dies when its cloud process is SIGKILLed",
    async () => {
      await sleeperDiesWithProcess("detacher-killed", "startDetachedSleeper", killed);
    },
  );
});
