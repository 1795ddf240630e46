// A process that dies, or swaps itself out on SIGTERM, while Redis is down: the control plane
// cannot record it then, and records it as soon as Redis answers again (failed, or swapped),
// so the next invocation resumes the process with its state. Before, the record said active
// for good and every invocation failed with PEER_UNAVAILABLE (connection refused).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { waitForStatus } from "../../src/control-plane/process-manager.js";
import { parseLocalBackendId } from "../../src/backends/local-pids.js";
import type { ProcessStatus } from "../../src/protocol/index.js";
import { PraaS } from "../../src/sdk/index.js";
import { RedisMetadataStore } from "../../src/storage/redis-metadata-store.js";
import { makeTempDir, text } from "../helpers/process-harness.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";
import { LogCapture } from "./fake-backend.js";

/** How long after Redis is back the record may still be wrong. */
const RECORDED_WITHIN_MS = 20_000;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let redisDir: Awaited<ReturnType<typeof makeTempDir>>;
let redis: RedisServer | undefined;
let redisPort = 0;
let plane: ControlPlane | undefined;
let client: PraaS;
const log = new LogCapture();

beforeAll(async () => {
  temp = await makeTempDir("redis-outage-deaths");
  redisDir = await makeTempDir("redis-outage-deaths-aof");
  redis = await startRedis({ dir: redisDir.dir });
  redisPort = redis.port;
  plane = await ControlPlane.start(
    {
      port: 0,
      controlPort: 0,
      dataDir: temp.dir,
      store: { kind: "redis", url: redis.url },
      warmPool: 0,
    },
    { log: log.logger },
  );
  client = new PraaS(plane.url);
  await client.deploy("counter", "examples/counter");
});

afterAll(async () => {
  // A failed run may have left Redis stopped: start it so the control plane stops cleanly.
  redis ??= await startRedis({ port: redisPort, dir: redisDir.dir }).catch(() => undefined);
  await client?.close();
  await plane?.stop();
  await redis?.stop();
  await temp?.remove();
  await redisDir?.remove();
});

/**
 * With Redis down, sends `signal` to the process and waits until the control plane has failed
 * to record both what it noticed (the process's exit and its lost control link), then starts
 * Redis again.
 */
async function outageAround(name: string, pid: number, signal: NodeJS.Signals): Promise<void> {
  await redis!.stop();
  redis = undefined;
  const before = log.find("could not mark process failed", { name }).length;
  process.kill(pid, signal);
  await log.waitFor("could not mark process failed", { name }, before + 2, 15_000);
  redis = await startRedis({ port: redisPort, dir: redisDir.dir });
}

/** Resolves once the record says `status` (rejects on another resting status or after the bound). */
async function recorded(name: string, status: ProcessStatus): Promise<void> {
  const watcher = await RedisMetadataStore.open({ url: redis!.url });
  try {
    await waitForStatus(watcher, "counter", name, new Set([status]), RECORDED_WITHIN_MS);
  } finally {
    await watcher.close();
  }
}

async function started(name: string, durability: "memory" | "log"): Promise<number> {
  const created = await client.createProcess("counter", name, { memory: 128, durability });
  return parseLocalBackendId(created.info.backendId!)!.pid;
}

describe("a process lost while Redis is down", () => {
  it("killed: recorded failed once Redis is back, then resumed with its state", async () => {
    const pid = await started("k1", "log");
    await client.invoke("counter", "add", "5", { process: "k1" });
    await outageAround("k1", pid, "SIGKILL");
    await recorded("k1", "failed");
    expect(text(await client.invoke("counter", "get", "", { process: "k1" }))).toBe("5");
    expect((await client.getProcess("counter", "k1")).status).toBe("active");
  }, 60_000);

  it("stopped by SIGTERM: its own swap-out is recorded once Redis is back", async () => {
    const pid = await started("t1", "memory");
    await client.invoke("counter", "add", "7", { process: "t1" });
    await outageAround("t1", pid, "SIGTERM");
    await recorded("t1", "swapped");
    expect(text(await client.invoke("counter", "get", "", { process: "t1" }))).toBe("7");
  }, 60_000);
});
