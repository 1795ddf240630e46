// Durability with Redis: a control-plane restart loses no metadata, live processes reconnect,
// and a clean stop swaps processes out so their state survives too. Nothing is left running.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { freePort, portClosed, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let redis: RedisServer;
let controlPort: number;
let praas: RunningPraaS | undefined;

const start = async (): Promise<RunningPraaS> =>
  (praas = await startPraaS({ dataDir: temp.dir, redis: redis.url, controlPort }));

beforeAll(async () => {
  temp = await makeTempDir("e2e-restart");
  redis = await startRedis();
  controlPort = await freePort();
});

afterAll(async () => {
  await praas?.stop();
  await redis?.stop();
  await temp?.remove();
});

/** Polls the API (bounded) until the process reports `status`. */
async function until(client: PraaS, name: string, status: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await client.getProcess("counter", name)).status !== status) {
    if (Date.now() > deadline) throw new Error(`${name} never became ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("control-plane restart with --redis", () => {
  it("keeps applications and processes, and live processes reconnect with their state", async () => {
    const first = await start();
    const client = new PraaS(first.url);
    await client.deploy("counter", "examples/counter");
    const proc = await client.createProcess("counter", "survivor");
    expect(text(await client.invoke("counter", "add", "5", { process: "survivor" }))).toBe("5");
    await client.close();
    await first.kill();

    const second = await start();
    const again = new PraaS(second.url);
    expect((await again.listApplications()).map((a) => a.name)).toEqual(["counter"]);
    await until(again, "survivor", "active");
    const conn = await (await again.getProcess("counter", "survivor")).connect();
    expect(text(await conn.invoke("add", "1"))).toBe("6");
    expect(proc.info.connection?.port).toBe(
      (await again.getProcess("counter", "survivor")).info.connection?.port,
    );
    await conn.close();
    // A swap travels over the control link: it works only because the process reconnected.
    expect((await again.swap("counter", "survivor")).status).toBe("swapped");
    expect(text(await again.invoke("counter", "add", "1", { process: "survivor" }))).toBe("7");
    await again.close();
  });

  it("swaps processes out on SIGTERM, leaves none running, and resumes them after a restart", async () => {
    const current = praas!;
    const client = new PraaS(current.url);
    const info = (await client.getProcess("counter", "survivor")).info;
    await client.close();
    expect(await current.stop()).toBe(0);
    expect(await portClosed(info.connection!.host, info.connection!.port)).toBe(true);

    const restarted = await start();
    const again = new PraaS(restarted.url);
    expect((await again.getProcess("counter", "survivor")).status).toBe("swapped");
    expect(text(await again.invoke("counter", "add", "1", { process: "survivor" }))).toBe("8");
    await again.deleteProcess("counter", "survivor");
    await again.close();
  });
});

describe("control-plane stop with the memory store", () => {
  it("stops every process it started", async () => {
    const dir = await makeTempDir("e2e-stop");
    const plane = await startPraaS({ dataDir: dir.dir });
    const client = new PraaS(plane.url);
    await client.deploy("counter", "examples/counter");
    const info = (await client.createProcess("counter", "p")).info;
    await client.close();
    expect(await plane.stop()).toBe(0);
    expect(await portClosed(info.connection!.host, info.connection!.port)).toBe(true);
    await dir.remove();
  });
});
