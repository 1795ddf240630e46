import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canTransition, transition } from "../../src/control-plane/lifecycle.js";
import { PROCESS_STATUSES, PraaSError, type ProcessStatus } from "../../src/protocol/index.js";
import type { MetadataStore, ProcessRecord } from "../../src/storage/index.js";
import {
  APP,
  codeOf,
  gate,
  startPlane,
  waitForRecord,
  type Harness,
  useSuiteRedis,
} from "./plane-harness.js";

const STATUSES: readonly ProcessStatus[] = PROCESS_STATUSES;

/** The documented state machine (ARCHITECTURE.md, lifecycle.ts): every allowed move. */
const DOCUMENTED = new Set([
  "allocating>active",
  "allocating>failed",
  "active>swapping",
  "active>failed",
  "active>deleted",
  "swapping>swapped",
  "swapping>active",
  "swapping>failed",
  "swapped>resuming",
  "swapped>deleted",
  "resuming>active",
  "resuming>swapped",
  "resuming>failed",
  "failed>resuming",
  "failed>active",
  "failed>deleted",
]);

const redisUrl = useSuiteRedis();

let seeded = 0;

/** A record in `status` that no process stands behind (what a crashed replica leaves). */
async function seedRecord(store: MetadataStore, status: ProcessStatus): Promise<string> {
  const name = `seed-${status}-${++seeded}`;
  const record: ProcessRecord = {
    app: APP,
    name,
    status,
    resources: { vcpus: 1, memory: 64 },
    secret: "s",
    createdAt: 1,
    updatedAt: 1,
    revision: 0,
  };
  expect(await store.createProcess(record)).toBe(true);
  return name;
}

describe("the transition table", () => {
  it("allows exactly the documented moves", () => {
    for (const from of STATUSES) {
      for (const to of STATUSES) {
        expect(canTransition(from, to), `${from} -> ${to}`).toBe(DOCUMENTED.has(`${from}>${to}`));
      }
    }
  });
});

describe.each(["memory", "redis"] as const)("process lifecycle on the %s store", (kind) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startPlane({ kind, url: redisUrl() });
  });

  afterAll(async () => {
    await h?.close();
  });

  it("refuses every move outside the table with INVALID_STATE and leaves the record alone", async () => {
    for (const from of STATUSES) {
      for (const to of STATUSES) {
        const name = await seedRecord(h.store, from);
        const code = await codeOf(transition(h.store, APP, name, [from], to));
        const allowed = from === to || canTransition(from, to);
        expect(code, `${from} -> ${to}`).toBe(allowed ? "ok" : "INVALID_STATE");
        expect((await h.store.getProcess(APP, name))?.status).toBe(allowed ? to : from);
      }
    }
  });

  it("refuses swap, resume and delete from every status that does not allow them", async () => {
    const operations = {
      swap: (name: string) => h.plane.swapProcess(APP, name),
      resume: (name: string) => h.plane.resumeProcess(APP, name),
      delete: (name: string) => h.plane.deleteProcess(APP, name),
    };
    const allowedFrom: Record<keyof typeof operations, ProcessStatus[]> = {
      swap: ["active"],
      resume: ["swapped", "failed"],
      // From "deleted", a delete finishes what an earlier one could not (see processes/delete.ts).
      delete: ["active", "swapped", "failed", "deleted"],
    };
    for (const [op, run] of Object.entries(operations)) {
      for (const from of STATUSES) {
        if (allowedFrom[op as keyof typeof operations].includes(from)) continue;
        const name = await seedRecord(h.store, from);
        expect(await codeOf(run(name)), `${op} from ${from}`).toBe("INVALID_STATE");
        expect((await h.store.getProcess(APP, name))?.status).toBe(from);
      }
    }
  });

  it("creates, swaps, resumes and deletes a process, keeping its state across the swap", async () => {
    const created = await h.plane.createProcess(APP, "round-trip", {});
    expect(created.status).toBe("active");
    await h.plane.invoke(APP, "set", Buffer.from("k=v"), "round-trip");
    const swapped = await h.plane.swapProcess(APP, "round-trip");
    expect(swapped.status).toBe("swapped");
    expect(h.backend.process("round-trip")).toBeUndefined();
    await h.plane.resumeProcess(APP, "round-trip");
    const got = await h.plane.invoke(APP, "get", Buffer.from("k"), "round-trip");
    expect(got.output.toString()).toBe("v");
    await h.plane.deleteProcess(APP, "round-trip");
  });

  it("refuses a delete while a swap is running, and a swap of a deleted process", async () => {
    const hold = gate();
    h.backend.script("swap-vs-delete", {
      beforeCommand: async (_process, name) => {
        if (name === "swap") await hold.promise;
      },
    });
    await h.plane.createProcess(APP, "swap-vs-delete", {});
    const swapping = h.plane.swapProcess(APP, "swap-vs-delete");
    await waitForRecord(h.store, "swap-vs-delete", "swapping");
    expect(await codeOf(h.plane.deleteProcess(APP, "swap-vs-delete"))).toBe("INVALID_STATE");
    hold.open();
    expect((await swapping).status).toBe("swapped");
    expect(await h.blobs.stat(`swaps/${APP}/swap-vs-delete`)).toBeDefined();

    await h.plane.createProcess(APP, "delete-vs-swap", {});
    await h.plane.deleteProcess(APP, "delete-vs-swap");
    expect(await codeOf(h.plane.swapProcess(APP, "delete-vs-swap"))).toBe("PROCESS_NOT_FOUND");
  });

  it("ends concurrent swap and delete in one consistent state", async () => {
    await h.plane.createProcess(APP, "race", {});
    const [swap, remove] = await Promise.allSettled([
      h.plane.swapProcess(APP, "race"),
      h.plane.deleteProcess(APP, "race"),
    ]);
    expect([swap.status, remove.status]).toContain("fulfilled");
    const record = await h.store.getProcess(APP, "race");
    const blob = await h.blobs.stat(`swaps/${APP}/race`);
    if (remove.status === "fulfilled") {
      expect(record).toBeUndefined();
      expect(blob).toBeUndefined();
    } else {
      expect(record?.status).toBe("swapped");
      expect(blob).toBeDefined();
    }
    expect(h.backend.process("race")).toBeUndefined();
  });

  it("answers an invocation that arrives during a swap from the resumed process", async () => {
    const hold = gate();
    h.backend.script("busy-swap", {
      beforeCommand: async (_process, name) => {
        if (name === "swap") await hold.promise;
      },
    });
    await h.plane.createProcess(APP, "busy-swap", {});
    await h.plane.invoke(APP, "set", Buffer.from("k=before"), "busy-swap");
    const swapping = h.plane.swapProcess(APP, "busy-swap");
    await waitForRecord(h.store, "busy-swap", "swapping");
    const during = h.plane.invoke(APP, "get", Buffer.from("k"), "busy-swap");
    hold.open();
    await swapping;
    expect((await during).output.toString()).toBe("before");
  });

  it("deletes the snapshot blob of a swapped process it deletes", async () => {
    await h.plane.createProcess(APP, "swapped-delete", {});
    await h.plane.invoke(APP, "set", Buffer.from("k=v"), "swapped-delete");
    await h.plane.swapProcess(APP, "swapped-delete");
    expect(await h.blobs.stat(`swaps/${APP}/swapped-delete`)).toBeDefined();
    await h.plane.deleteProcess(APP, "swapped-delete");
    expect(await h.blobs.stat(`swaps/${APP}/swapped-delete`)).toBeUndefined();
    expect(await h.store.getProcess(APP, "swapped-delete")).toBeUndefined();
  });

  it("undoes a create whose backend start fails: no record, the name is free again", async () => {
    h.backend.script("undo", {
      beforeStart: () => Promise.reject(new PraaSError("BACKEND_ERROR", "no room")),
    });
    expect(await codeOf(h.plane.createProcess(APP, "undo", {}))).toBe("BACKEND_ERROR");
    expect(await h.store.getProcess(APP, "undo")).toBeUndefined();
    h.backend.script("undo", {});
    expect((await h.plane.createProcess(APP, "undo", {})).status).toBe("active");
    await h.plane.deleteProcess(APP, "undo");
  });

  it("marks a process failed when the backend reports that it exited", async () => {
    await h.plane.createProcess(APP, "crash", {});
    await h.backend.process("crash")?.exit(1, null);
    const failed = await waitForRecord(h.store, "crash", "failed");
    expect(failed?.error).toMatch(/exited unexpectedly/);
  });
});
