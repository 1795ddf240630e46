// `GET /apps/:app/processes` byte for byte, on every metadata store: the listing is a contract
// (fields, their order, ISO dates), and it is built by hand and kept per record for speed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MetadataStore, ProcessRecord } from "../../src/storage/index.js";
import { APP, startPlane, type Harness, useSuiteRedis } from "./plane-harness.js";

const redisUrl = useSuiteRedis();

const T = Date.UTC(2026, 0, 2, 3, 4, 5, 67);
/** Far enough ahead that no alarm fires during the test. */
const ALARM_AT = Date.UTC(2099, 11, 31, 23, 59, 59, 999);

const SEEDS: ProcessRecord[] = [
  {
    app: APP,
    name: "p-failed",
    status: "failed",
    resources: { vcpus: 1, memory: 128 },
    limits: { maxInflight: 8, invocationTimeoutMs: 2_000 },
    durability: "log",
    secret: "never-listed",
    error: 'exited "badly"',
    lastFailure: { at: T, reason: "exited" },
    version: 1,
    idleSwapMs: 60_000,
    createdAt: T,
    updatedAt: T + 1,
    revision: 4,
  },
  {
    app: APP,
    name: "p-idle",
    status: "swapped",
    resources: { vcpus: 0.5, memory: 64 },
    secret: "never-listed",
    stateSize: 10,
    swapReason: "idle",
    idleSince: T + 2,
    autoAllocated: true,
    alarms: [{ fn: "tick", at: ALARM_AT, payload: "AQ==", attempts: 1 }],
    createdAt: T,
    updatedAt: T + 3,
    revision: 7,
  },
];

const FAILED =
  '{"app":"app","name":"p-failed","status":"failed","resources":{"vcpus":1,"memory":128},' +
  '"limits":{"maxInflight":8,"invocationTimeoutMs":2000},"durability":"log",' +
  '"createdAt":"2026-01-02T03:04:05.067Z","updatedAt":"2026-01-02T03:04:05.068Z",' +
  '"version":1,"error":"exited \\"badly\\"","idleSwapMs":60000,' +
  '"lastFailure":{"at":"2026-01-02T03:04:05.067Z","reason":"exited"}}';
const IDLE =
  '{"app":"app","name":"p-idle","status":"swapped","resources":{"vcpus":0.5,"memory":64},' +
  '"limits":{},"durability":"memory","createdAt":"2026-01-02T03:04:05.067Z",' +
  '"updatedAt":"2026-01-02T03:04:05.070Z","stateSize":10,"swapReason":"idle",' +
  '"idleSince":"2026-01-02T03:04:05.069Z","auto":true,' +
  '"alarms":[{"function":"tick","at":"2099-12-31T23:59:59.999Z","attempts":1}]}';

/** The properties of an active process, in the order the listing writes them. */
const ACTIVE_KEYS = [
  ...["app", "name", "status", "resources", "limits", "durability", "createdAt", "updatedAt"],
  ...["connection", "version", "idleSwapMs", "backendId"],
];

async function seed(store: MetadataStore): Promise<void> {
  for (const record of SEEDS) expect(await store.createProcess(record)).toBe(true);
}

async function list(h: Harness): Promise<{ type: string | null; body: string }> {
  const response = await fetch(`${h.plane.url}/apps/${APP}/processes`);
  expect(response.status).toBe(200);
  return { type: response.headers.get("content-type"), body: await response.text() };
}

describe.each(["memory", "file", "redis"] as const)(
  "GET /apps/:app/processes on the %s store",
  (kind) => {
    let h: Harness;

    beforeAll(async () => {
      h = await startPlane({ kind, url: redisUrl() }, { seed });
      await h.plane.createProcess(APP, "p-active", {});
    });

    afterAll(async () => {
      await h?.close();
    });

    it("answers the exact bytes: fields in order, ISO dates, no secrets", async () => {
      const { type, body } = await list(h);
      expect(type).toBe("application/json; charset=utf-8");
      const active = (JSON.parse(body) as { active: object[] }).active;
      expect(active.map((info) => Object.keys(info))).toEqual([ACTIVE_KEYS]);
      const activeJson = JSON.stringify(active[0]);
      expect(body).toBe(`{"active":[${activeJson}],"swapped":[${IDLE}],"failed":[${FAILED}]}`);
    });

    it("shows a change to a listed record in the next listing", async () => {
      await list(h); // a listing before the change, which a cache might keep
      const before = await h.store.getProcess(APP, "p-idle");
      const changed = await h.store.updateProcess(APP, "p-idle", before!.revision, {
        stateSize: 11,
      });
      expect(changed?.stateSize).toBe(11);
      expect((await list(h)).body).toContain(IDLE.replace('"stateSize":10', '"stateSize":11'));
    });
  },
);
