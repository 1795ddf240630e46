import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findRedisServer, startRedis, type RedisServer } from "../helpers/redis-server.js";
import { APP, startPlane, type Harness, type StoreTarget } from "./plane-harness.js";

const skipRedis = findRedisServer() === undefined && process.env.PRAAS_ALLOW_SKIP === "1";
let redis: RedisServer | undefined;

beforeAll(async () => {
  if (!skipRedis) redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

const targets: StoreTarget[] = [{ kind: "memory" }, { kind: "redis" }];

describe.each(targets)("process lifecycle on the $kind store", (target) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startPlane(target.kind === "redis" ? { kind: "redis", url: redis?.url } : target);
  });

  afterAll(async () => {
    await h?.close();
  });

  it("creates, swaps, resumes and deletes a process through the fake backend", async () => {
    const created = await h.plane.createProcess(APP, "smoke", {});
    expect(created.status).toBe("active");
    await h.plane.invoke(APP, "set", Buffer.from("k=v"), "smoke");
    const swapped = await h.plane.swapProcess(APP, "smoke");
    expect(swapped.status).toBe("swapped");
    await h.plane.resumeProcess(APP, "smoke");
    const got = await h.plane.invoke(APP, "get", Buffer.from("k"), "smoke");
    expect(got.output.toString()).toBe("v");
    await h.plane.deleteProcess(APP, "smoke");
  });
});
