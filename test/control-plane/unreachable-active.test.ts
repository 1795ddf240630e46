// A record that says active for a process that is gone (its death could not be recorded, e.g.
// the store was down then): a sticky invocation that finds no control link to it and its
// endpoint refusing connections records it failed and resumes it, instead of answering
// PEER_UNAVAILABLE for as long as the record says active.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessRecord } from "../../src/storage/index.js";
import { freePort } from "../helpers/redis-server.js";
import { APP, startPlane, useSuiteRedis, type Harness } from "./plane-harness.js";

const redisUrl = useSuiteRedis();

describe.each(["memory", "redis"] as const)("an active record of a gone process (%s)", (kind) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startPlane({ kind, url: redisUrl() });
  });

  afterAll(async () => {
    await h?.close();
  });

  it("is marked failed and resumed by the next sticky invocation", async () => {
    const now = Date.now();
    const gone: ProcessRecord = {
      app: APP,
      name: "gone",
      status: "active",
      resources: { vcpus: 1, memory: 128 },
      // Nothing listens there: the port was free a moment ago and nobody took it since.
      connection: { host: "127.0.0.1", port: await freePort(), token: "old-token" },
      secret: "secret-of-gone",
      backendId: "fake:gone",
      createdAt: now,
      updatedAt: now,
      revision: 0,
    };
    expect(await h.store.createProcess(gone)).toBe(true);

    const reply = await h.plane.invoke(APP, "echo", Buffer.from("hi"), "gone");
    expect(reply.output.toString()).toBe("hi");
    const record = await h.store.getProcess(APP, "gone");
    expect(record?.status).toBe("active");
    expect(record?.lastFailure?.reason).toMatch(/refuses connections/);
  });
});
