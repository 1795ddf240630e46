// Sticky invocations through the control plane while the process is swapped out again as soon
// as a call resumed it: a call that meets a swap waits for it to end, resumes the process and
// runs, so every call succeeds, and each runs exactly once (the counter equals the number of
// calls). Before, many calls failed with UNAVAILABLE ("the process is swapping") or
// INVALID_STATE (a resume racing another resume or a finished swap).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { waitForStatus } from "../../src/control-plane/process-manager.js";
import type { ProcessStatus } from "../../src/protocol/index.js";
import { PraaS } from "../../src/sdk/index.js";
import { RedisMetadataStore } from "../../src/storage/redis-metadata-store.js";
import { makeTempDir, text } from "../helpers/process-harness.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";

const CLIENTS = 50;
const CALLS = 20;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let redis: RedisServer;
let plane: ControlPlane;
let praas: PraaS;
let watcher: RedisMetadataStore;

beforeAll(async () => {
  temp = await makeTempDir("sticky-swap");
  redis = await startRedis();
  plane = await ControlPlane.start({
    port: 0,
    controlPort: 0,
    dataDir: temp.dir,
    store: { kind: "redis", url: redis.url },
    logLevel: "error",
  });
  praas = new PraaS(plane.url);
  watcher = await RedisMetadataStore.open({ url: redis.url });
  await praas.deploy("counter", "examples/counter");
});

afterAll(async () => {
  await praas?.close();
  await watcher?.close();
  await plane?.stop();
  await redis?.stop();
  await temp?.remove();
});

const ACTIVE: ReadonlySet<ProcessStatus> = new Set(["active"]);

/**
 * Swaps the process out each time it is active again, at once, until stopped: every resume
 * is followed by a swap that races the calls which waited for it. `stop()` only asks the loop
 * to end; it ends once the process is active again (the test's last call resumes it), and
 * `done` resolves how many swaps went through.
 */
function swapLoop(name: string): { stop(): void; done: Promise<number> } {
  let running = true;
  const loop = async (): Promise<number> => {
    let swaps = 0;
    while (running) {
      await waitForStatus(watcher, "counter", name, ACTIVE, 30_000);
      if (!running) break;
      // Refused when another swap got there first: part of the race.
      await praas.swap("counter", name).then(
        () => swaps++,
        () => undefined,
      );
    }
    return swaps;
  };
  return { stop: () => void (running = false), done: loop() };
}

describe("sticky invocations while the process swaps in a loop", () => {
  it("all succeed, each runs once", async () => {
    await praas.createProcess("counter", "sw1", { memory: 128 });
    const failures: string[] = [];
    const client = async (): Promise<void> => {
      for (let i = 0; i < CALLS; i++) {
        await praas.invoke("counter", "add", "1", { process: "sw1" }).catch((error: unknown) => {
          const { code, message } = error as { code?: string; message?: string };
          failures.push(`${code}: ${message}`);
        });
      }
    };
    const swaps = swapLoop("sw1");
    try {
      await Promise.all(Array.from({ length: CLIENTS }, client));
    } finally {
      swaps.stop();
    }
    const count = text(await praas.invoke("counter", "get", "", { process: "sw1" }));
    const swapped = await swaps.done;
    console.log(`sticky-swap: ${swapped} swaps, ${failures.length} failed calls`);
    expect(swapped).toBeGreaterThan(2); // the calls did meet swaps
    expect(failures).toEqual([]);
    expect(Number(count)).toBe(CLIENTS * CALLS);
  }, 60_000);
});
