/**
 * JSON schemas of the HTTP API: they validate requests, serialize responses and feed the
 * OpenAPI document. They mirror the TypeScript shapes in src/protocol/api.ts. Objects allow
 * additional properties so that a field added to a record there is not silently dropped here.
 */
import type { FastifyInstance } from "fastify";
import {
  LOG_LEVELS,
  LOG_STREAMS,
  DURABILITY_MODES,
  ERROR_CODES,
  PROCESS_LIMITS,
  PROCESS_REACHES,
  PROCESS_STATUSES,
} from "../../protocol/index.js";

const timestamp = { type: "string", format: "date-time" } as const;

export const durabilitySchema = {
  type: "string",
  enum: [...DURABILITY_MODES],
  description: "memory: state as of the last swap survives a crash; log: every acknowledged write",
} as const;

const resources = {
  $id: "Resources",
  type: "object",
  properties: {
    vcpus: { type: "number", description: "virtual CPUs" },
    memory: { type: "integer", description: "MiB" },
  },
  additionalProperties: true,
} as const;

/**
 * Documents the limit keys; unknown keys pass here so that the service's check can name them
 * (a schema failure would only say "additional properties").
 */
const processLimits = {
  $id: "ProcessLimits",
  type: "object",
  properties: Object.fromEntries(
    Object.entries(PROCESS_LIMITS).map(([key, { max, description }]) => [
      key,
      { type: "integer", minimum: 1, maximum: max, description },
    ]),
  ),
  additionalProperties: true,
} as const;

const appDefaults = {
  $id: "AppDefaults",
  type: "object",
  properties: { ...resources.properties, limits: { $ref: "ProcessLimits#" } },
  additionalProperties: true,
} as const;

const appInfo = {
  $id: "AppInfo",
  type: "object",
  required: ["name", "version", "functions", "defaults", "versions", "createdAt", "updatedAt"],
  properties: {
    name: { type: "string" },
    version: { type: "integer", description: "the current version" },
    functions: { type: "array", items: { type: "string" } },
    defaults: { $ref: "AppDefaults#" },
    versions: {
      type: "array",
      description: "versions kept for rollback, oldest first, the current one last",
      items: {
        type: "object",
        required: ["version", "functions", "deployedAt"],
        properties: {
          version: { type: "integer" },
          functions: { type: "array", items: { type: "string" } },
          deployedAt: timestamp,
          rollbackOf: { type: "integer", description: "the version whose code it runs" },
        },
      },
    },
    secrets: {
      type: "array",
      description: "names of its secrets (values are never returned)",
      items: { type: "string" },
    },
    createdAt: timestamp,
    updatedAt: timestamp,
  },
  additionalProperties: true,
} as const;

const processInfo = {
  $id: "ProcessInfo",
  type: "object",
  required: [
    "app",
    "name",
    "status",
    "resources",
    "limits",
    "durability",
    "createdAt",
    "updatedAt",
  ],
  properties: {
    app: { type: "string" },
    name: { type: "string" },
    status: {
      type: "string",
      enum: [...PROCESS_STATUSES],
    },
    resources: { $ref: "Resources#" },
    limits: { $ref: "ProcessLimits#" },
    connection: { $ref: "Connection#" },
    connections: {
      type: "object",
      description: "GET of an active process: its open data-plane connections by path",
      properties: Object.fromEntries(PROCESS_REACHES.map((path) => [path, { type: "integer" }])),
    },
    stateSize: { type: "integer", description: "bytes of swapped state" },
    version: { type: "integer", description: "the application version it runs" },
    error: { type: "string", description: "why the process failed" },
    durability: durabilitySchema,
    idleSwapMs: { type: "integer", description: "swapped out after this long unused; 0: never" },
    swapReason: {
      type: "string",
      enum: ["request", "idle", "signal", "shutdown"],
      description: "while swapped: why",
    },
    idleSince: { ...timestamp, description: "after an idle swap-out: when its last use ended" },
    auto: { type: "boolean", description: "allocated by the control plane (FaaS style)" },
    lastFailure: {
      type: "object",
      description: "the last unexpected loss of the process; kept after it came back",
      required: ["at", "reason"],
      properties: { at: timestamp, reason: { type: "string" } },
    },
    alarms: {
      type: "array",
      description: "the alarms its functions set (ctx.setAlarm), earliest first; no payloads",
      items: {
        type: "object",
        required: ["function", "at"],
        properties: {
          function: { type: "string" },
          at: { ...timestamp, description: "when it fires next" },
          attempts: { type: "integer", description: "firings so far, when fired before" },
        },
      },
    },
    createdAt: timestamp,
    updatedAt: timestamp,
  },
  additionalProperties: true,
} as const;

const connection = {
  $id: "Connection",
  type: "object",
  description: "present while active: where and how to reach the process",
  required: ["host", "port", "token"],
  properties: {
    host: { type: "string" },
    port: { type: "integer" },
    token: { type: "string" },
    path: {
      type: "string",
      enum: [...PROCESS_REACHES],
      description: "direct (absent) or, behind NAT, punch / relay through the rendezvous",
    },
    rendezvous: {
      type: "object",
      required: ["host", "port"],
      properties: { host: { type: "string" }, port: { type: "integer" } },
    },
    ticket: {
      type: "string",
      description: "from POST …/connect: a single-use, short-lived pairing ticket",
    },
  },
  additionalProperties: true,
} as const;

const processList = {
  $id: "ProcessList",
  type: "object",
  required: ["active", "swapped", "failed"],
  properties: {
    active: { type: "array", items: { $ref: "ProcessInfo#" } },
    swapped: { type: "array", items: { $ref: "ProcessInfo#" } },
    failed: { type: "array", items: { $ref: "ProcessInfo#" } },
  },
} as const;

const errorBody = {
  $id: "ErrorBody",
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string", enum: [...ERROR_CODES] },
        message: { type: "string" },
        errorName: { type: "string" },
        stack: { type: "string", description: "the function's stack trace (--error-stacks)" },
      },
    },
  },
} as const;

const health = {
  $id: "Health",
  type: "object",
  required: ["status", "replica", "store", "storeStatus", "blobs", "backend"],
  properties: {
    status: { type: "string", enum: ["ok", "degraded"] },
    replica: { type: "string" },
    store: { type: "string", enum: ["memory", "file", "redis"] },
    storeStatus: {
      type: "string",
      enum: ["reachable", "unreachable"],
      description: "whether the metadata store answered a PING within 500 ms",
    },
    reason: { type: "string", description: "what is wrong, when degraded" },
    blobs: { type: "string", enum: ["disk", "s3"] },
    backend: { type: "string" },
  },
  additionalProperties: true,
} as const;

/** Registers the shared schemas so routes can `$ref` them (and OpenAPI lists them once). */
const logRecord = {
  $id: "LogRecord",
  type: "object",
  required: ["time", "level", "stream", "app", "process", "message"],
  properties: {
    time: { type: "integer", description: "milliseconds since the epoch" },
    level: { type: "string", enum: [...LOG_LEVELS] },
    stream: { type: "string", enum: [...LOG_STREAMS] },
    app: { type: "string" },
    process: { type: "string" },
    function: { type: "string", description: "absent for a write outside any invocation" },
    invocationId: { type: "string" },
    message: { type: "string" },
  },
} as const;

export function addSharedSchemas(app: FastifyInstance): void {
  const schemas = [
    resources,
    processLimits,
    appDefaults,
    appInfo,
    connection,
    processInfo,
    processList,
  ];
  for (const schema of [...schemas, errorBody, health, logRecord]) {
    app.addSchema(schema);
  }
}

export const ref = (id: string): { $ref: string } => ({ $ref: `${id}#` });

/** Every route can fail with the JSON error body. */
export const errorResponses = { "4xx": ref("ErrorBody"), "5xx": ref("ErrorBody") } as const;

export function deletedResponse(what: string): object {
  return {
    type: "object",
    required: ["deleted"],
    properties: { deleted: { type: "string", description: `the deleted ${what}` } },
  };
}

/** Path parameters; their alphabet is enforced by the names hook (assertName). */
const name = (what: string): object => ({ type: "string", description: `${what} name` });
export const appParams = { type: "object", properties: { app: name("application") } } as const;
export const processParams = {
  type: "object",
  properties: { app: name("application"), proc: name("process") },
} as const;
export const functionParams = {
  type: "object",
  properties: { app: name("application"), fn: name("function") },
} as const;

/** A raw byte body or response, for the OpenAPI document only. */
export const binary = { type: "string", format: "binary" } as const;
