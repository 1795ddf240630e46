// Redis restarting under load: while it is down the control plane answers 503 UNAVAILABLE at
// once (no hang, no crash, no unhandled rejection); once it is back everything works again with
// no metadata lost, and the change subscription delivers notices again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import type { ProcessChange } from "../../src/storage/index.js";
import { RedisMetadataStore } from "../../src/storage/redis-metadata-store.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";
import { within } from "../helpers/stopped-process.js";
import { parseLocalBackendId } from "../../src/backends/local-pids.js";

const CLIENTS = 4;
/** A request slower than this counts as hanging (a dead Redis used to hold requests ~10 s+). */
const HANG_MS = 8_000;

/** "ok", "unavailable" (503 UNAVAILABLE), "hang", or a description of anything else. */
type Outcome = string;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let redisDir: Awaited<ReturnType<typeof makeTempDir>>;
let redis: RedisServer | undefined;
let redisPort = 0;
let plane: ControlPlane | undefined;
let watcher: RedisMetadataStore | undefined;

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  temp = await makeTempDir("redis-outage");
  redisDir = await makeTempDir("redis-outage-aof");
  redis = await startRedis({ dir: redisDir.dir });
  redisPort = redis.port;
});

afterAll(async () => {
  // A failed run may have left Redis stopped: start it so the control plane stops cleanly.
  redis ??= await startRedis({ port: redisPort, dir: redisDir.dir }).catch(() => undefined);
  await watcher?.close();
  await plane?.stop();
  await redis?.stop();
  await temp?.remove();
  await redisDir?.remove();
  process.off("unhandledRejection", onUnhandled);
});

/** One HTTP request of the load, classified. */
async function request(url: string, init: RequestInit = {}): Promise<Outcome> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(HANG_MS) });
    const body = await response.text();
    if (response.ok) return "ok";
    const code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
    if (response.status === 503 && code === "UNAVAILABLE") return "unavailable";
    return `${response.status} ${code}: ${body}`;
  } catch (error) {
    return error instanceof Error && error.name === "TimeoutError" ? "hang" : String(error);
  }
}

/** Clients that loop over store-backed and hot-path requests until stopped. */
function startLoad(base: string): { outcomes: Outcome[]; stop(): Promise<void> } {
  const outcomes: Outcome[] = [];
  let running = true;
  const requests = [
    () => request(`${base}/apps`),
    () => request(`${base}/apps/counter/processes`),
    () => request(`${base}/apps/counter/processes/p1`),
    () => request(`${base}/apps/counter/invoke/get?process=p1`, { method: "POST", body: "" }),
  ];
  const client = async (offset: number): Promise<void> => {
    for (let i = offset; running && outcomes.length < 100_000; i++) {
      outcomes.push(await requests[i % requests.length]!());
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
  return {
    outcomes,
    stop: async () => {
      running = false;
      await Promise.all(clients);
    },
  };
}

/** Waits (bounded) until `count` outcomes after index `from` are `kind`. */
async function until(outcomes: Outcome[], kind: Outcome, count: number, from = 0): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (outcomes.slice(from).filter((o) => o === kind).length < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} ${kind} answers`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

function startPlane(): Promise<ControlPlane> {
  return ControlPlane.start({
    port: 0,
    controlPort: 0,
    dataDir: temp.dir,
    store: { kind: "redis", url: redis!.url },
    logLevel: "error",
  });
}

/** Resolves once the store announces `name` with `status`. */
async function announced(name: string, status: string): Promise<void> {
  watcher ??= await RedisMetadataStore.open({ url: redis!.url });
  let seen: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => (seen = resolve));
  const off = await watcher.subscribe((change) => {
    if (change.name === name && change.record?.status === status) seen();
  });
  return promise.finally(() => void off().catch(() => undefined));
}

/** Polls the API (bounded) until the process reports `status`; 503s while Redis returns. */
async function untilStatus(client: PraaS, name: string, status: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  const now = () => client.getProcess("counter", name).then((p) => p.status, String);
  while ((await now()) !== status) {
    if (Date.now() > deadline) throw new Error(`${name} never became ${status}: ${await now()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("Redis restarting under load", () => {
  it("answers 503 UNAVAILABLE while it is down, then works again with nothing lost", async () => {
    const port = redis!.port;
    plane = await startPlane();
    const client = new PraaS(plane.url);
    await client.deploy("counter", "examples/counter");
    await client.createProcess("counter", "p1", { memory: 128 });
    await client.createProcess("counter", "p2", { memory: 128 });
    await client.invoke("counter", "add", "5", { process: "p1" });
    await client.invoke("counter", "add", "7", { process: "p2" });
    await client.swap("counter", "p2");
    watcher = await RedisMetadataStore.open({ url: redis!.url });
    const notices: ProcessChange[] = [];
    await watcher.subscribe((change) => notices.push(change));

    const rssBefore = process.memoryUsage().rss;
    const load = startLoad(plane.url);
    try {
      await until(load.outcomes, "ok", 20);
      await redis!.stop();
      redis = undefined;
      await until(load.outcomes, "unavailable", 20);
      const downTo = load.outcomes.length;
      redis = await startRedis({ port, dir: redisDir.dir });
      await until(load.outcomes, "ok", 40, downTo);
    } finally {
      await load.stop();
    }
    const rssAfter = process.memoryUsage().rss;
    console.log(
      `redis outage: ${load.outcomes.length} requests, ` +
        `${load.outcomes.filter((o) => o === "unavailable").length} answered 503; ` +
        `RSS ${(rssBefore / 2 ** 20).toFixed(1)} MiB before, ${(rssAfter / 2 ** 20).toFixed(1)} MiB after`,
    );

    expect(load.outcomes.filter((o) => o !== "ok" && o !== "unavailable")).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(rssAfter - rssBefore).toBeLessThan(200 * 2 ** 20);
    // Nothing lost: the app, both processes and their state.
    expect((await client.listApplications()).map((a) => a.name)).toEqual(["counter"]);
    const list = await client.listProcesses("counter");
    expect(list.active.map((p) => p.name)).toEqual(["p1"]);
    expect(list.swapped.map((p) => p.name)).toEqual(["p2"]);
    expect(text(await client.invoke("counter", "get", "", { process: "p1" }))).toBe("5");
    // Resuming p2 writes to the store; the subscription made before the outage sees it.
    expect(text(await client.invoke("counter", "get", "", { process: "p2" }))).toBe("7");
    await until(
      notices.map((n) => (n.name === "p2" ? n.record?.status : undefined)) as Outcome[],
      "active",
      1,
    );
    await client.close();
  }, 120_000);

  // Left to the periodic sweep for stuck operations, the record would stay "swapping" for
  // minutes, and every request for the process would time out waiting for it.
  it("settles a swap whose last store write failed once Redis is back", async () => {
    const port = redis!.port;
    plane ??= await startPlane();
    const client = new PraaS(plane.url);
    await client.deploy("counter", "examples/counter");
    const created = await client.createProcess("counter", "late", { memory: 128 });
    await client.invoke("counter", "add", "3", { process: "late" });
    const pid = parseLocalBackendId(created.info.backendId!)!.pid;
    const swapping = announced("late", "swapping");
    // Held still, the process takes the swap command only once Redis is down.
    process.kill(pid, "SIGSTOP");
    const swap = client.swap("counter", "late").then(
      (p) => p.status,
      (error: { code?: string; message?: string }) => error.code ?? error.message ?? "?",
    );
    try {
      await within(swapping, 10_000);
      await redis!.stop();
      redis = undefined;
    } finally {
      process.kill(pid, "SIGCONT");
    }
    expect(await swap).toBe("UNAVAILABLE"); // it stored the state; recording it failed
    redis = await startRedis({ port, dir: redisDir.dir });
    await untilStatus(client, "late", "swapped");
    expect(text(await client.invoke("counter", "get", "", { process: "late" }))).toBe("3");
    await client.close();
  }, 60_000);
});
