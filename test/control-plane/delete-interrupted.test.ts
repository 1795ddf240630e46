// A delete cut short after it marked the record `deleted` (the store down at its last write, a
// control-plane crash in the middle) must not leave the name unusable: before, the record stayed
// `deleted` for good, `rm` answered INVALID_STATE ("cannot make it deleted") and a create of the
// same name ALREADY_EXISTS, forever. The delete is now finished once the store answers again,
// and a restarted control plane finishes the ones a crash left.
import { afterEach, describe, expect, it } from "vitest";
import { PraaSError } from "../../src/protocol/index.js";
import type { MetadataStore, ProcessRecord } from "../../src/storage/index.js";
import { APP, codeOf, startPlane, waitForRecord, type Harness } from "./plane-harness.js";

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const storeDown = (): PraaSError => new PraaSError("UNAVAILABLE", "the store is down");

/**
 * The store the control plane uses, with `deleteProcess` failing while `down.now` is set, and
 * with `lostAnswers` updates applied but answered with a failure (Redis killed before it replied).
 */
function failingDeletes(down: { now: boolean; lostAnswers?: number }) {
  return (store: MetadataStore): MetadataStore =>
    new Proxy(store, {
      get(target, key) {
        if (key === "deleteProcess" && down.now) return () => Promise.reject(storeDown());
        if (key === "updateProcess" && (down.lostAnswers ?? 0) > 0) {
          return async (...args: Parameters<MetadataStore["updateProcess"]>) => {
            down.lostAnswers = (down.lostAnswers ?? 1) - 1;
            await target.updateProcess(...args);
            throw storeDown();
          };
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === "function" ? (value as () => unknown).bind(target) : value;
      },
    });
}

describe("a delete cut short", () => {
  it("is finished once the store answers again, and the name can be used again", async () => {
    const down = { now: false };
    harness = await startPlane({ kind: "memory" }, { wrapStore: failingDeletes(down) });
    const { plane, store, backend } = harness;
    await plane.createProcess(APP, "p", {});
    down.now = true;
    expect(await codeOf(plane.deleteProcess(APP, "p"))).toBe("UNAVAILABLE");
    expect((await store.getProcess(APP, "p"))?.status).toBe("deleted");
    expect(backend.process("p")).toBeUndefined(); // stopped before the last write failed
    down.now = false;
    await waitForRecord(store, "p", undefined);
    const again = await plane.createProcess(APP, "p", {});
    expect(again.status).toBe("active");
    await plane.deleteProcess(APP, "p");
  });

  it("is finished when the store took the mark but its answer was lost", async () => {
    const down = { now: false, lostAnswers: 0 };
    harness = await startPlane({ kind: "memory" }, { wrapStore: failingDeletes(down) });
    const { plane, store } = harness;
    await plane.createProcess(APP, "q", {});
    down.lostAnswers = 1;
    expect(await codeOf(plane.deleteProcess(APP, "q"))).toBe("UNAVAILABLE");
    await waitForRecord(store, "q", undefined);
    expect((await plane.createProcess(APP, "q", {})).status).toBe("active");
    await plane.deleteProcess(APP, "q");
  });

  it("is finished by a restarted control plane", async () => {
    const stale: ProcessRecord = {
      app: APP,
      name: "half-deleted",
      status: "deleted",
      resources: { vcpus: 1, memory: 64 },
      secret: "s",
      createdAt: 1,
      updatedAt: 1,
      revision: 0,
    };
    harness = await startPlane(
      { kind: "memory" },
      {
        options: { reconnectGraceMs: 100 },
        seed: async (store, blobs) => {
          expect(await store.createProcess(stale)).toBe(true);
          await blobs.put(`swaps/${APP}/half-deleted`, Buffer.from("old state"));
        },
      },
    );
    await waitForRecord(harness.store, "half-deleted", undefined);
    expect(await harness.blobs.stat(`swaps/${APP}/half-deleted`)).toBeUndefined();
    expect((await harness.plane.createProcess(APP, "half-deleted", {})).status).toBe("active");
    await harness.plane.deleteProcess(APP, "half-deleted");
  });
});
