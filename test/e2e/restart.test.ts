// Durability with Redis: a control-plane restart loses no metadata, live processes reconnect,
// and a clean stop swaps processes out so their state survives too. Nothing is left running.
// Each test has its own redis-server, data dir and control port, and cleans up in `finally`.
import { describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, runProcessesMatching } from "../helpers/process-harness.js";
import { freePort, portClosed, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";
import { RedisMetadataStore } from "../../src/storage/redis-metadata-store.js";
import type { ProcessStatus } from "../../src/protocol/index.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

interface Durable {
  /** Starts a control plane on the shared store and control port. */
  start: (extraArgs?: string[]) => Promise<RunningPraaS>;
  redisUrl: string;
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
      redisUrl: url,
      start: async (extraArgs) => {
        const plane = await startPraaS({ dataDir: temp.dir, redis: url, controlPort, extraArgs });
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

/** Writes `status` into a stored record, as a crash in the middle of an operation leaves it. */
async function forceStatus(redisUrl: string, name: string, status: ProcessStatus): Promise<void> {
  const store = await RedisMetadataStore.open({ url: redisUrl });
  try {
    const record = await store.getProcess("counter", name);
    const patch = { status, updatedAt: Date.now() - 1000, swapId: "lost" };
    expect((await store.updateProcess("counter", name, record!.revision, patch))?.status).toBe(
      status,
    );
  } finally {
    await store.close();
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

  // The periodic sweep for stuck operations waits minutes; these must settle at the first one.
  it("settles the records of live processes a crash left mid-operation once they reconnect", async () => {
    await withDurablePlane(async ({ start, client, redisUrl }) => {
      const first = await start();
      const before = client(first);
      await before.deploy("counter", "examples/counter");
      for (const name of ["mid-swap", "mid-resume"]) {
        await before.createProcess("counter", name);
        await before.invoke("counter", "add", "5", { process: name });
      }
      await before.swap("counter", "mid-resume");
      const resumed = (await before.resume("counter", "mid-resume")).info.connection!;
      await first.kill();
      // As a crash leaves them: during a swap the process could not store (it serves on), and
      // after a resumed process registered but before it was recorded active.
      await forceStatus(redisUrl, "mid-swap", "swapping");
      await forceStatus(redisUrl, "mid-resume", "resuming");

      const again = client(await start(["--reconnect-grace", "1000"]));
      await until(again, "mid-swap", "active");
      expect(text(await again.invoke("counter", "add", "1", { process: "mid-swap" }))).toBe("6");
      // Nobody recorded the resumed instance: it is stopped, its record goes back to swapped.
      await until(again, "mid-resume", "swapped");
      expect(await portClosed(resumed.host, resumed.port)).toBe(true);
      expect(text(await again.invoke("counter", "add", "1", { process: "mid-resume" }))).toBe("6");
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
