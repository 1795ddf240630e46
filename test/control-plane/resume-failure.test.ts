// A resume that fails late (the restored process never registers in time) keeps the record
// swapped and the stored state in place, so a later resume brings everything back.
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import type { ControlPlaneOptions } from "../../src/control-plane/config.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, rejection, text } from "../helpers/process-harness.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";

let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
let redis: RedisServer | undefined;
const planes: ControlPlane[] = [];
const clients: PraaS[] = [];

beforeAll(async () => {
  temp = await makeTempDir("resume-failure");
  redis = await startRedis();
});

afterAll(async () => {
  for (const client of clients) await client.close();
  for (const plane of planes) await plane.stop().catch(() => undefined);
  await redis?.stop();
  await temp?.remove();
});

/** A control plane over the shared Redis and blob directory (a restart of the same one). */
async function startPlane(options: ControlPlaneOptions = {}): Promise<PraaS> {
  const plane = await ControlPlane.start({
    port: 0,
    dataDir: temp!.dir,
    store: { kind: "redis", url: redis!.url },
    blobs: { kind: "disk", root: path.join(temp!.dir, "blobs") },
    logLevel: "silent",
    ...options,
  });
  planes.push(plane);
  const client = new PraaS(plane.url);
  clients.push(client);
  return client;
}

const snapshotFile = (): string => path.join(temp!.dir, "blobs", "swaps", "suite", "r1");

describe("resume that fails late", () => {
  it("leaves the record swapped and the stored state in place; a later resume works", async () => {
    const first = await startPlane();
    await first.deploy("suite", "test/fixtures/apps/runtime-suite");
    await first.createProcess("suite", "r1", { vcpus: 1, memory: 256 });
    expect(text(await first.invoke("suite", "add", "5", { process: "r1" }))).toBe("5");
    expect((await first.swap("suite", "r1")).status).toBe("swapped");
    await planes.pop()!.stop();

    // No process can register within 1 ms: the restored process starts, then the resume fails.
    const impatient = await startPlane({ startTimeoutMs: 1 });
    const failed = await rejection(impatient.resume("suite", "r1"));
    expect(failed.code).not.toBe("STORAGE_ERROR");
    expect((await impatient.getProcess("suite", "r1")).status).toBe("swapped");
    expect(existsSync(snapshotFile())).toBe(true);
    await planes.pop()!.stop();

    const patient = await startPlane();
    const resumed = await patient.resume("suite", "r1");
    expect(resumed.status).toBe("active");
    expect(text(await patient.invoke("suite", "add", "1", { process: "r1" }))).toBe("6");
    expect(existsSync(snapshotFile())).toBe(false);
    await patient.deleteProcess("suite", "r1");
  });
});
