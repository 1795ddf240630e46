// No stop of `praas up --redis` strands a process. Ctrl-C signals the whole foreground process
// group: it must reach only the control plane, which swaps its processes out. And a control
// plane killed outright leaves its processes running; restarted on the same HTTP port (so the
// same default control port), it takes them back.
import { readFileSync } from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { freePort, portClosed, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";
import { alive } from "../helpers/process-tree.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let redis: RedisServer;
let httpPort: number;
let praas: RunningPraaS | undefined;

/** `praas up` on the fixed HTTP port, without --control-port, leading its own group. */
const start = async (): Promise<RunningPraaS> =>
  (praas = await startPraaS({
    dataDir: temp.dir,
    redis: redis.url,
    detached: true,
    extraArgs: ["--port", String(httpPort)],
  }));

/** A free port whose successor is free too (HTTP port and default control port). */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await canListen(port + 1))) return port;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Polls the API (bounded) until the process reports `status`. */
async function until(
  client: PraaS,
  name: string,
  status: string,
  app = "counter",
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await client.getProcess(app, name)).status !== status) {
    if (Date.now() > deadline) throw new Error(`${name} never became ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The parent pid of `pid`, from /proc. */
function parentOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
}

beforeAll(async () => {
  temp = await makeTempDir("e2e-ctrl-c");
  redis = await startRedis();
  httpPort = await freePortPair();
});

afterAll(async () => {
  // Whatever happened, leave no process running: delete them all, then stop.
  const running = praas?.child.exitCode === null ? praas : await start().catch(() => undefined);
  if (running) {
    const client = new PraaS(running.url);
    for (const name of ["c1", "c2"])
      await client.deleteProcess("counter", name).catch(() => undefined);
    for (const name of ["s1", "s2"])
      await client.deleteProcess("suite", name).catch(() => undefined);
    await client.close();
    await running.stop();
  }
  await redis?.stop();
  await temp?.remove();
});

describe("stopping praas up --redis", () => {
  it("Ctrl-C (SIGINT to the whole process group) swaps processes out; their state survives", async () => {
    const first = await start();
    const client = new PraaS(first.url);
    await client.deploy("counter", "examples/counter");
    const info = (await client.createProcess("counter", "c1", { memory: 128 })).info;
    expect(text(await client.invoke("counter", "add", "5", { process: "c1" }))).toBe("5");
    await client.close();

    process.kill(-first.child.pid!, "SIGINT");
    expect(await first.exited).toBe(0);
    expect(await portClosed(info.connection!.host, info.connection!.port)).toBe(true);

    const second = await start();
    const again = new PraaS(second.url);
    expect((await again.getProcess("counter", "c1")).status).toBe("swapped");
    expect(text(await again.invoke("counter", "add", "1", { process: "c1" }))).toBe("6");
    await again.close();
  });

  it("SIGKILL of the control plane alone: processes live on and reconnect after a restart", async () => {
    const client = new PraaS(praas!.url);
    await client.createProcess("counter", "c2", { memory: 128 });
    expect(text(await client.invoke("counter", "add", "5", { process: "c2" }))).toBe("5");
    await client.close();
    await praas!.kill();

    const restarted = await start();
    const again = new PraaS(restarted.url);
    await until(again, "c2", "active");
    // A swap travels over the control link: it works only because the process reconnected.
    expect((await again.swap("counter", "c2")).status).toBe("swapped");
    expect(text(await again.invoke("counter", "add", "1", { process: "c2" }))).toBe("6");
    expect(text(await again.invoke("counter", "get", "", { process: "c1" }))).toBe("6");
    await again.close();
  });

  it("a cloud process told to stop by a signal swaps itself out; its record says swapped", async () => {
    const running = praas?.child.exitCode === null ? praas : await start();
    const client = new PraaS(running.url);
    await client.deploy("suite", "test/fixtures/apps/runtime-suite");
    await client.createProcess("suite", "s1", { memory: 128 });
    expect(text(await client.invoke("suite", "add", "5", { process: "s1" }))).toBe("5");
    const workerPid = text(await client.invoke("suite", "pid", "", { process: "s1" }));
    const processPid = parentOf(Number(workerPid));

    process.kill(processPid, "SIGTERM");
    const deadline = Date.now() + 20_000;
    while ((await client.getProcess("suite", "s1")).status !== "swapped") {
      if (Date.now() > deadline) throw new Error("s1 never became swapped");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(text(await client.invoke("suite", "add", "1", { process: "s1" }))).toBe("6");
    await client.close();
  });

  it("a process stopped while its control plane is away keeps its state: failed, then resumed on invoke", async () => {
    const running = praas?.child.exitCode === null ? praas : await start();
    const client = new PraaS(running.url);
    await client.deploy("suite", "test/fixtures/apps/runtime-suite");
    const proc = await client.createProcess("suite", "s2", { memory: 128 });
    expect(text(await client.invoke("suite", "add", "5", { process: "s2" }))).toBe("5");
    const processPid = parentOf(
      Number(text(await client.invoke("suite", "pid", "", { process: "s2" }))),
    );
    await client.close();
    await running.kill();

    // Alone, told to stop: it swaps out but cannot tell anyone; its record still says active.
    process.kill(processPid, "SIGTERM");
    const deadline = Date.now() + 20_000;
    while (alive(processPid)) {
      if (Date.now() > deadline) throw new Error("the process did not exit");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(proc.info.status).toBe("active");

    const restarted = await start();
    const again = new PraaS(restarted.url);
    // The restarted control plane gives it the reconnect grace (30 s), then marks it failed.
    await until(again, "s2", "failed", "suite", 60_000);
    expect(text(await again.invoke("suite", "add", "1", { process: "s2" }))).toBe("6");
    await again.close();
  }, 120_000);
});
