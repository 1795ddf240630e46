// Durability with Redis: a control-plane restart loses no metadata, live processes reconnect,
// and a clean stop swaps processes out so their state survives too. Nothing is left running.
// Each test has its own redis-server, data dir and control port, and cleans up in `finally`.
import { describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, runProcessesMatching } from "../helpers/process-harness.js";
import { freePort, portClosed, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

interface Durable {
  /** Starts a control plane on the shared store and control port. */
  start: () => Promise<RunningPraaS>;
  client: (plane: RunningPraaS) => PraaS;
}

/**
 * Runs `body` with a fresh redis-server, data dir and control port, then stops every control
 * plane and client it made and kills any process still running from its data dir (the processes
 * of a SIGKILLed control plane would otherwise wait minutes for it to come back).
 */
async function withDurablePlane(body: (durable: Durable) => Promise<void>): Promise<void> {
  const temp = await makeTempDir("e2e-restart");
  let redis: RedisServer | undefined;
  const planes: RunningPraaS[] = [];
  const clients: PraaS[] = [];
  try {
    redis = await startRedis();
    const url = redis.url;
    const controlPort = await freePort();
    await body({
      start: async () => {
        const plane = await startPraaS({ dataDir: temp.dir, redis: url, controlPort });
        planes.push(plane);
        return plane;
      },
      client: (plane) => {
        const client = new PraaS(plane.url);
        clients.push(client);
        return client;
      },
    });
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
    await Promise.allSettled(planes.map((plane) => plane.stop()));
    for (const pid of runProcessesMatching(temp.dir)) process.kill(pid, "SIGKILL");
    await redis?.stop();
    await temp.remove();
  }
}

/** Polls the API (bounded) until the process reports `status`. */
async function until(client: PraaS, name: string, status: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await client.getProcess("counter", name)).status !== status) {
    if (Date.now() > deadline) throw new Error(`${name} never became ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Restarts whole control planes and their processes: a generous bound for loaded machines.
describe("control-plane restart with --redis", { timeout: 120_000 }, () => {
  it("keeps applications and processes, and live processes reconnect with their state", async () => {
    await withDurablePlane(async ({ start, client }) => {
      const first = await start();
      const before = client(first);
      await before.deploy("counter", "examples/counter");
      const proc = await before.createProcess("counter", "survivor");
      expect(text(await before.invoke("counter", "add", "5", { process: "survivor" }))).toBe("5");
      await first.kill();

      const again = client(await start());
      expect((await again.listApplications()).map((a) => a.name)).toEqual(["counter"]);
      await until(again, "survivor", "active");
      const conn = await (await again.getProcess("counter", "survivor")).connect();
      try {
        expect(text(await conn.invoke("add", "1"))).toBe("6");
      } finally {
        await conn.close();
      }
      expect(proc.info.connection?.port).toBe(
        (await again.getProcess("counter", "survivor")).info.connection?.port,
      );
      // A swap travels over the control link: it works only because the process reconnected.
      expect((await again.swap("counter", "survivor")).status).toBe("swapped");
      expect(text(await again.invoke("counter", "add", "1", { process: "survivor" }))).toBe("7");
    });
  });

  it("swaps processes out on SIGTERM, leaves none running, and resumes them after a restart", async () => {
    await withDurablePlane(async ({ start, client }) => {
      const first = await start();
      const before = client(first);
      await before.deploy("counter", "examples/counter");
      const info = (await before.createProcess("counter", "survivor")).info;
      expect(text(await before.invoke("counter", "add", "7", { process: "survivor" }))).toBe("7");
      await before.close();
      expect(await first.stop()).toBe(0);
      expect(await portClosed(info.connection!.host, info.connection!.port)).toBe(true);

      const again = client(await start());
      expect((await again.getProcess("counter", "survivor")).status).toBe("swapped");
      expect(text(await again.invoke("counter", "add", "1", { process: "survivor" }))).toBe("8");
      await again.deleteProcess("counter", "survivor");
    });
  });
});

describe("control-plane stop with the memory store", () => {
  it("stops every process it started", async () => {
    const dir = await makeTempDir("e2e-stop");
    let plane: RunningPraaS | undefined;
    try {
      plane = await startPraaS({ dataDir: dir.dir, extraArgs: ["--store", "memory"] });
      const client = new PraaS(plane.url);
      let info;
      try {
        await client.deploy("counter", "examples/counter");
        info = (await client.createProcess("counter", "p")).info;
      } finally {
        await client.close();
      }
      expect(await plane.stop()).toBe(0);
      expect(await portClosed(info.connection!.host, info.connection!.port)).toBe(true);
    } finally {
      await plane?.stop();
      for (const pid of runProcessesMatching(dir.dir)) process.kill(pid, "SIGKILL");
      await dir.remove();
    }
  });
});
