import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transition } from "../../src/control-plane/lifecycle.js";
import { PraaSError, type ProcessInfo } from "../../src/protocol/index.js";
import { encodeSnapshot } from "../../src/runtime/snapshot.js";
import type { BlobStore, MetadataStore } from "../../src/storage/index.js";
import { APP, startPlane, waitForRecord, type Harness, useSuiteRedis } from "./plane-harness.js";

const redisUrl = useSuiteRedis();

/** What a replica that died leaves behind: records of active processes nobody runs any more. */
async function previousReplica(store: MetadataStore, blobs: BlobStore): Promise<void> {
  for (const name of ["ghost-saved", "ghost-empty"]) {
    await store.createProcess({
      app: APP,
      name,
      status: "active",
      resources: { vcpus: 1, memory: 64 },
      connection: { host: "127.0.0.1", port: 9, token: "gone" },
      secret: "s",
      createdAt: 1,
      updatedAt: 1,
      revision: 0,
    });
  }
  // An orphaned process swaps itself out before it exits: its state waits under the usual key.
  const state = [{ key: "k", value: Buffer.from("saved"), updatedAt: 1 }];
  await blobs.put(`swaps/${APP}/ghost-saved`, encodeSnapshot(state, []));
}

describe.each(["memory", "redis"] as const)(
  "a control-plane restart on the %s store where processes never come back",
  (kind) => {
    let h: Harness;

    beforeAll(async () => {
      h = await startPlane(
        { kind, url: redisUrl() },
        { options: { reconnectGraceMs: 50 }, seed: previousReplica },
      );
    });

    afterAll(async () => {
      await h?.close();
    });

    it("marks them failed once the reconnect grace has passed", async () => {
      for (const name of ["ghost-saved", "ghost-empty"]) {
        const record = await waitForRecord(h.store, name, "failed");
        expect(record?.error).toMatch(/did not reconnect/);
      }
    });

    it("resumes a failed process from its snapshot", async () => {
      await waitForRecord(h.store, "ghost-saved", "failed");
      const resumed = await h.plane.resumeProcess(APP, "ghost-saved");
      expect(resumed.status).toBe("active");
      const got = await h.plane.invoke(APP, "get", Buffer.from("k"), "ghost-saved");
      expect(got.output.toString()).toBe("saved");
      // Kept: a crash of the resumed process brings it back from there.
      expect(await h.blobs.stat(`swaps/${APP}/ghost-saved`)).toBeDefined();
    });

    it("resumes a failed process without a snapshot, empty, and keeps its last failure", async () => {
      await waitForRecord(h.store, "ghost-empty", "failed");
      const response = await fetch(`${h.plane.url}/apps/${APP}/processes/ghost-empty/resume`, {
        method: "POST",
      });
      expect(response.status).toBe(200);
      const info = (await response.json()) as ProcessInfo;
      expect(info.status).toBe("active");
      expect(info.lastFailure?.reason).toMatch(/did not reconnect/);
      const got = await h.plane.invoke(APP, "get", Buffer.from("k"), "ghost-empty");
      expect(got.output.toString()).toBe("");
      const again = await h.plane.getProcess(APP, "ghost-empty");
      expect(again.lastFailure?.reason).toMatch(/did not reconnect/);
      expect(Date.parse(again.lastFailure?.at ?? "")).toBeGreaterThan(0);
    });
  },
);

describe("a resume queued behind a failing one", () => {
  it("never makes a failed process without a snapshot swapped (it would never resume again)", async () => {
    const h = await startPlane({ kind: "memory" });
    try {
      await h.plane.createProcess(APP, "queued", {});
      await transition(h.store, APP, "queued", ["active"], "failed");
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let starts = 0;
      h.backend.script("queued", {
        beforeStart: async () => {
          if (++starts > 1) return;
          await gate;
          throw new PraaSError("BACKEND_ERROR", "the first start fails");
        },
      });
      const first = h.plane.resumeProcess(APP, "queued").catch((error: unknown) => error);
      await waitForRecord(h.store, "queued", "resuming");
      const second = h.plane.resumeProcess(APP, "queued"); // sees "resuming" when it queues
      release();
      expect(await first).toMatchObject({ code: "BACKEND_ERROR" });
      // It starts empty, as a failed process without a snapshot does; before, it restored from
      // a snapshot that does not exist and then went back to "swapped".
      expect((await second).status).toBe("active");
    } finally {
      await h.close();
    }
  });
});
