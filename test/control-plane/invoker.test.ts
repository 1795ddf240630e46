import { afterAll, describe, expect, it } from "vitest";
import type { FakeBehaviour, FakeProcess } from "./fake-backend.js";
import { APP, gate, startPlane, type Harness, useSuiteRedis } from "./plane-harness.js";

const redisUrl = useSuiteRedis();

/** "hold" invocations wait until the test opens the gate; the rest behave as usual. */
function holding(held: Promise<void>, started: (process: FakeProcess) => void): FakeBehaviour {
  return {
    invoke: async (process, fn, payload) => {
      if (fn !== "hold") return payload;
      started(process);
      await held;
      return Buffer.from(process.spec.name);
    },
  };
}

/** Resolves with the process once an invocation is running in it. */
function nextHold(waiters: ((p: FakeProcess) => void)[]): Promise<FakeProcess> {
  return new Promise((resolve) => waiters.push(resolve));
}

describe.each(["memory", "redis"] as const)(
  "invocations without ?process= on the %s store",
  (kind) => {
    let h: Harness | undefined;

    afterAll(async () => {
      await h?.close();
    });

    async function plane(options: { maxAutoProcesses: number; maxInflightPerProcess: number }) {
      await h?.close();
      h = await startPlane({ kind, url: redisUrl() }, { options });
      return h;
    }

    it("allocates a process on the first call, and shares one allocation among concurrent first calls", async () => {
      const p = await plane({ maxAutoProcesses: 4, maxInflightPerProcess: 16 });
      const reached = gate();
      const starting = gate();
      let starts = 0;
      p.backend.script(undefined, {
        beforeStart: async () => {
          starts++;
          reached.open();
          await starting.promise;
        },
      });
      const calls = [1, 2, 3, 4, 5].map((i) => p.plane.invoke(APP, "echo", Buffer.from(`m${i}`)));
      await reached.promise; // the first allocation is under way; the other calls are waiting
      starting.open();
      const results = await Promise.all(calls);
      expect(results.map((r) => r.output.toString())).toEqual(["m1", "m2", "m3", "m4", "m5"]);
      expect(new Set(results.map((r) => r.process)).size).toBe(1);
      expect(results[0]?.process).toMatch(/^auto-/);
      expect(starts).toBe(1);
      const records = await p.store.listProcesses(APP);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ status: "active", autoAllocated: true });
    });

    it("allocates a second process when the first is busy, and never more than maxAutoProcesses", async () => {
      const p = await plane({ maxAutoProcesses: 2, maxInflightPerProcess: 1 });
      const held = gate();
      const waiters: ((process: FakeProcess) => void)[] = [];
      p.backend.script(
        undefined,
        holding(held.promise, (process) => waiters.shift()?.(process)),
      );
      const hold = () => p.plane.invoke(APP, "hold", Buffer.alloc(0));

      let running = nextHold(waiters);
      const first = hold();
      const a = await running;
      running = nextHold(waiters);
      const second = hold(); // a is busy (1 in flight, the limit): a second process
      const b = await running;
      expect(b.spec.name).not.toBe(a.spec.name);
      const more = [hold(), hold(), hold()]; // at the cap: these share a and b
      held.open();
      const names = (await Promise.all([first, second, ...more])).map((r) => r.process);
      expect(new Set(names)).toEqual(new Set([a.spec.name, b.spec.name]));
      expect(await p.store.listProcesses(APP)).toHaveLength(2);
    });
  },
);
