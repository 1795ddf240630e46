// Redis restarted without its data (no persistence, or its files lost): the control plane must
// answer from what Redis now holds. Before, its cache of active processes, fed by Redis change
// notices it could not receive while disconnected, kept serving sticky invocations of a process
// of an application that no longer existed. Real `praas up --redis` and a real redis-server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");
/** ioredis re-dials at most every second; a few attempts fit easily. */
const RECONNECT_BOUND_MS = 15_000;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let redis: RedisServer | undefined;
let redisPort = 0;
let praas: RunningPraaS | undefined;
let client: PraaS | undefined;

beforeAll(async () => {
  temp = await makeTempDir("e2e-redis-emptied");
  redis = await startRedis(); // no persistence: a restart comes back empty
  redisPort = redis.port;
  praas = await startPraaS({ dataDir: temp.dir, redis: redis.url });
  client = new PraaS(praas.url);
});

afterAll(async () => {
  await client?.close();
  await praas?.stop();
  await redis?.stop();
  await temp?.remove();
});

/** The outcome of a sticky `add 1`: its answer, or the error code. */
async function addOne(): Promise<string> {
  return client!.invoke("counter", "add", "1", { process: "p1" }).then(
    (bytes) => text(bytes),
    (error: { code?: string }) => error.code ?? "no code",
  );
}

describe("Redis restarted empty", () => {
  it("stops serving processes Redis no longer knows, once it is reachable again", async () => {
    await client!.deploy("counter", "examples/counter");
    await client!.createProcess("counter", "p1", { memory: 128 });
    expect(await addOne()).toBe("1");
    expect(await addOne()).toBe("2"); // from the cache of active processes

    await redis!.stop();
    redis = await startRedis({ port: redisPort });

    const deadline = Date.now() + RECONNECT_BOUND_MS;
    let outcome = await addOne();
    while (outcome !== "APP_NOT_FOUND" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      outcome = await addOne();
    }
    expect(outcome).toBe("APP_NOT_FOUND");
    // The control plane is consistent with its store again: the app can be deployed anew.
    await client!.deploy("counter", "examples/counter");
    await client!.createProcess("counter", "p1", { memory: 128 });
    expect(await addOne()).toBe("1");
  }, 60_000);
});
