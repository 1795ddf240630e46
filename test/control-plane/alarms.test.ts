// Alarms fired by replicas sharing one real Redis: of the replicas that know a due alarm exactly
// one claims and fires it, and an alarm whose claiming replica died is fired by another once
// the claim's lease ends (at least once). The end-to-end behaviour (a real process, swap,
// restart, retries) is in test/e2e/alarms.test.ts; here the firing itself is a recorder, so the
// test can count who fired and hold a firing open.
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Alarms, type AlarmsOptions } from "../../src/control-plane/alarms.js";
import type { MetadataStore, ProcessRecord } from "../../src/storage/index.js";
import { RedisMetadataStore } from "../../src/storage/redis-metadata-store.js";
import { APP, gate, useSuiteRedis } from "./plane-harness.js";

const redisUrl = useSuiteRedis();
const WAIT_MS = 20_000;
let prefixes = 0;

interface Firing {
  replica: string;
  fn: string;
  payload: string;
}

describe("alarms on replicas sharing one Redis", { timeout: 60_000 }, () => {
  let stores: MetadataStore[];
  let running: Alarms[];
  let prefix: string;

  beforeEach(async () => {
    stores = [];
    running = [];
    prefix = `alarms${process.pid}-${++prefixes}:`;
    const store = await openStore();
    const now = Date.now();
    await store.putApp({
      name: APP,
      version: 1,
      functions: ["alarm"],
      bundleKey: `bundles/${APP}/1`,
      defaults: {},
      createdAt: now,
      updatedAt: now,
    });
    await store.createProcess(processRecord(now));
  });

  afterEach(async () => {
    for (const alarms of running) await alarms.stop();
    for (const store of stores) await store.close();
  });

  async function openStore(): Promise<MetadataStore> {
    const store = await RedisMetadataStore.open({ url: redisUrl() ?? "", prefix });
    stores.push(store);
    return store;
  }

  async function replica(
    fire: AlarmsOptions["fire"],
    leaseMs = 60_000,
  ): Promise<{ alarms: Alarms; store: MetadataStore }> {
    const store = await openStore();
    const alarms = new Alarms({
      store,
      log: pino({ level: "silent" }),
      fire,
      leaseMs,
      retryMs: 50,
      scanIntervalMs: 200,
    });
    running.push(alarms);
    await alarms.start();
    return { alarms, store };
  }

  /** Waits (bounded) until the process record holds no alarm any more. */
  async function untilNoAlarms(store: MetadataStore): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while ((await store.getProcess(APP, "p1"))?.alarms !== undefined) {
      if (Date.now() > deadline) throw new Error(`alarm still stored after ${WAIT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it("exactly one of several replicas fires a due alarm", async () => {
    const fired: Firing[] = [];
    const recorder =
      (name: string): AlarmsOptions["fire"] =>
      (_app, _proc, fn, payload) => {
        fired.push({ replica: name, fn, payload: payload.toString() });
        return Promise.resolve();
      };
    const replicas = await Promise.all(["a", "b", "c"].map((name) => replica(recorder(name))));
    const first = replicas[0]!;
    // Due a little later, so every replica knows it (notice or scan) before it is due.
    const request = { op: "set", function: "alarm", at: Date.now() + 500 } as const;
    const payload = Buffer.from("tick");
    expect(await first.alarms.request(APP, "p1", { ...request, payload })).toEqual({
      existed: false,
    });
    await untilNoAlarms(first.store);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ fn: "alarm", payload: "tick" });
  });

  it("an alarm whose claiming replica died is fired by another after the lease", async () => {
    const claimed = gate();
    // Replica a claims it, then never finishes: as if it died mid-firing.
    const a = await replica(() => {
      claimed.open();
      return new Promise<void>(() => undefined);
    }, 300);
    const payload = Buffer.from("again");
    await a.alarms.request(APP, "p1", { op: "set", function: "alarm", at: Date.now(), payload });
    await claimed.promise;
    await a.alarms.stop();

    const fired: Firing[] = [];
    const b = await replica((_app, _proc, fn, bytes) => {
      fired.push({ replica: "b", fn, payload: bytes.toString() });
      return Promise.resolve();
    });
    await untilNoAlarms(b.store);
    expect(fired).toEqual([{ replica: "b", fn: "alarm", payload: "again" }]);
  });

  it("stores every one of many alarms set at once on one process", async () => {
    const { alarms, store } = await replica(() => Promise.resolve());
    const at = Date.now() + 3_600_000;
    const payload = Buffer.from("later");
    const requests = Array.from({ length: 50 }, (_, i) =>
      alarms.request(APP, "p1", { op: "set", function: `f${i}`, at, payload }),
    );
    expect(await Promise.all(requests)).toEqual(requests.map(() => ({ existed: false })));
    expect((await store.getProcess(APP, "p1"))?.alarms).toHaveLength(50);
  });
});

function processRecord(now: number): ProcessRecord {
  return {
    app: APP,
    name: "p1",
    status: "swapped",
    resources: { vcpus: 1, memory: 128 },
    secret: "secret-p1",
    createdAt: now,
    updatedAt: now,
    revision: 1,
  };
}
