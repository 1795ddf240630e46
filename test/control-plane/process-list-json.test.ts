// The hand-built listing JSON against what the route's response schema makes of the same
// ProcessInfo objects (fast-json-stringify through Fastify, as the route sent it before).
import fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addSharedSchemas, ref } from "../../src/control-plane/http/schemas.js";
import {
  processInfoJson,
  processListJson,
  type ProcessListJson,
} from "../../src/control-plane/process-list-json.js";
import { toProcessInfo } from "../../src/control-plane/records.js";
import type { ProcessInfo, ProcessListInfo } from "../../src/protocol/index.js";
import type { ProcessRecord } from "../../src/storage/index.js";

const T = Date.UTC(2026, 0, 2, 3, 4, 5, 67);

function record(name: string, fields: Partial<ProcessRecord> = {}): ProcessRecord {
  const base = {
    app: "app",
    name,
    status: "swapped" as const,
    resources: { vcpus: 1, memory: 64 },
  };
  return { ...base, secret: "s", createdAt: T, updatedAt: T + 1, revision: 1, ...fields };
}

/** Records with every field the listing shows, and values of other types than declared. */
const RECORDS: ProcessRecord[] = [
  record("bare"),
  record("no-memory", { resources: { vcpus: 2 } as never }),
  record("full", {
    status: "active",
    resources: { vcpus: 0.5, memory: 256 },
    limits: { maxInflight: 3, invocationTimeoutMs: 1_000, walCompactBytes: 1 << 20 },
    durability: "log",
    connection: { host: "10.0.0.1", port: 4100, token: "t0k", path: "relay", ticket: "tk" },
    backendId: "local:42",
    stateSize: 7,
    autoAllocated: true,
    version: 3,
    idleSwapMs: 0,
    lastFailure: { at: T - 5, reason: "worker crashed" },
    alarms: [
      { fn: "later", at: T + 9, payload: "", attempts: 2 },
      { fn: "sooner", at: T + 2, payload: "AA==" },
    ],
  }),
  record("idle", { swapReason: "idle", idleSince: T - 1_000, stateSize: 0, durability: "memory" }),
  record("failed", { status: "failed", error: 'quote " back \\ newline \n tab \t' }),
  record("unicode", { status: "failed", error: "é ✓ 😀 \u2028 \u2029 \u007f lone \ud800 end" }),
  record("resuming", { status: "resuming", limits: {} }),
  record("odd-types", {
    resources: { vcpus: Infinity, memory: 128.9, gpus: 2 } as never,
    limits: { maxConnections: -7.5, unknownLimit: 4 } as never,
    stateSize: "12" as never,
    error: 42 as never,
    connection: { host: "h", port: 1, token: "t", extra: { nested: [1, "x"] } } as never,
    status: "active",
  }),
  record("odd-extras", {
    resources: { 'we"ird': "v", skipped: undefined } as never,
    limits: { ["\n"]: 1 } as never,
  }),
];

const FULL = RECORDS.find((r) => r.name === "full")!;

let app: FastifyInstance;
let reference: ProcessListInfo = { active: [], swapped: [], failed: [] };

beforeAll(async () => {
  app = fastify();
  addSharedSchemas(app);
  app.get("/list", { schema: { response: { 200: ref("ProcessList") } } }, () => reference);
  await app.ready();
});

afterAll(async () => {
  await app.close();
});

/** What the schema serializer makes of `list`. */
async function schemaJson(list: ProcessListInfo): Promise<string> {
  reference = list;
  const response = await app.inject({ method: "GET", url: "/list" });
  expect(response.statusCode).toBe(200);
  return response.body;
}

function handJson(list: ProcessListInfo): string {
  const json = (infos: ProcessInfo[]) => infos.map((info) => Buffer.from(processInfoJson(info)));
  const groups: ProcessListJson = {
    active: json(list.active),
    swapped: json(list.swapped),
    failed: json(list.failed),
  };
  return processListJson(groups).toString("utf8");
}

/** A value of the type a property schema declares. */
function sampleOf(schema: { type?: string }): unknown {
  const samples: Record<string, unknown> = { string: "s", integer: 7, number: 1.5, boolean: true };
  return samples[schema.type ?? ""] ?? {};
}

describe("processListJson", () => {
  it.each(RECORDS.map((r) => [r.name, r] as const))(
    "writes the %s process as the schema serializer does",
    async (_name, r) => {
      const list = { active: [toProcessInfo(r)], swapped: [], failed: [] };
      expect(handJson(list)).toBe(await schemaJson(list));
    },
  );

  it("writes empty and many-member groups as the schema serializer does", async () => {
    const infos = RECORDS.map(toProcessInfo);
    for (const list of [
      { active: [], swapped: [], failed: [] },
      { active: infos.slice(0, 1), swapped: infos, failed: infos.slice(2, 4) },
    ]) {
      expect(handJson(list)).toBe(await schemaJson(list));
    }
  });

  it("knows every property the ProcessInfo schema declares (one added there lands in order)", async () => {
    const declared = (app.getSchema("ProcessInfo") as { properties: Record<string, object> })
      .properties;
    const info: Record<string, unknown> = { ...toProcessInfo(FULL) };
    info.connections = { direct: 1, punch: 2, relay: 3 };
    for (const [key, schema] of Object.entries(declared)) info[key] ??= sampleOf(schema);
    const list = { active: [info as unknown as ProcessInfo], swapped: [], failed: [] };
    expect(handJson(list)).toBe(await schemaJson(list));
  });

  it("writes properties ProcessInfo may carry beyond a record's, and undeclared ones last", async () => {
    const info: ProcessInfo = {
      ...toProcessInfo(FULL),
      connections: { direct: 2, punch: 0, relay: 1 },
      connection: {
        host: "h",
        port: 2,
        token: "t",
        path: "punch",
        rendezvous: { host: "r", port: 3 },
      },
    };
    const extra = { zone: "eu", tags: ["a", "b"], gone: undefined };
    const list = { active: [{ ...extra, ...info } as ProcessInfo], swapped: [], failed: [] };
    expect(handJson(list)).toBe(await schemaJson(list));
  });
});
