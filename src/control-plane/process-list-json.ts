/**
 * The body of `GET /apps/:app/processes`, written by hand: byte for byte what the route's
 * response schema (fast-json-stringify over `ProcessList` in http/schemas.ts) makes of the same
 * ProcessInfo objects, several times faster, which matters when 10,000 processes are listed.
 * The schema serializer writes an object's required properties first (in `required` order),
 * then its other declared ones (in `properties` order), then, where additional properties are
 * allowed, the rest as JSON.stringify would; a value of another type than declared is coerced
 * as it coerces it (where it throws, this throws INTERNAL). Checked against it by
 * test/control-plane/process-list-json.test.ts.
 */
import { PROCESS_LIMIT_KEYS, PROCESS_REACHES, PraaSError } from "../protocol/index.js";
import type { AlarmInfo, ConnectionInfo, ProcessInfo } from "../protocol/index.js";

/** The UTF-8 JSON of each listed process, grouped as the listing groups them. */
export interface ProcessListJson {
  active: Buffer[];
  swapped: Buffer[];
  failed: Buffer[];
}

/**
 * Joined as bytes: the parts are small, and joining 10,000 strings made by concatenation costs
 * more than building them (V8 walks every piece of every one).
 */
export function processListJson(list: ProcessListJson): Buffer {
  const parts: Buffer[] = [];
  pushGroup(parts, '{"active":', list.active);
  pushGroup(parts, ',"swapped":', list.swapped);
  pushGroup(parts, ',"failed":', list.failed);
  parts.push(Buffer.from("}"));
  return Buffer.concat(parts);
}

const COMMA = Buffer.from(",");

/** `key` then the items as an array, pushed one by one (a group may hold 10,000 and more). */
function pushGroup(parts: Buffer[], key: string, items: readonly Buffer[]): void {
  parts.push(Buffer.from(`${key}[`));
  for (const [i, item] of items.entries()) {
    if (i > 0) parts.push(COMMA);
    parts.push(item);
  }
  parts.push(Buffer.from("]"));
}

const PROCESS_KEYS: ReadonlySet<string> = new Set([
  ...["app", "name", "status", "resources", "limits", "durability", "createdAt", "updatedAt"],
  ...["connection", "connections", "stateSize", "version", "error", "idleSwapMs", "swapReason"],
  ...["idleSince", "auto", "lastFailure", "alarms"],
]);

export function processInfoJson(info: ProcessInfo): string {
  const { app, name, status, resources, limits, durability, createdAt, updatedAt } = info;
  let json = `{"app":${text(app)},"name":${text(name)},"status":${text(status)}`;
  json += `,"resources":${resourcesJson(resources)},"limits":${limitsJson(limits)}`;
  json += `,"durability":${text(durability)},"createdAt":${text(createdAt)}`;
  json += `,"updatedAt":${text(updatedAt)}`;
  return `${json}${optionalJson(info)}${extraJson(info, PROCESS_KEYS)}}`;
}

/** The optional properties, in the schema's order, each with its leading comma. */
function optionalJson(info: ProcessInfo): string {
  let json = "";
  if (info.connection !== undefined) json += `,"connection":${connectionJson(info.connection)}`;
  if (info.connections !== undefined) json += `,"connections":${connectionsJson(info.connections)}`;
  if (info.stateSize !== undefined) json += `,"stateSize":${integer(info.stateSize)}`;
  if (info.version !== undefined) json += `,"version":${integer(info.version)}`;
  if (info.error !== undefined) json += `,"error":${text(info.error)}`;
  if (info.idleSwapMs !== undefined) json += `,"idleSwapMs":${integer(info.idleSwapMs)}`;
  if (info.swapReason !== undefined) json += `,"swapReason":${text(info.swapReason)}`;
  if (info.idleSince !== undefined) json += `,"idleSince":${text(info.idleSince)}`;
  if (info.auto !== undefined) json += `,"auto":${info.auto ? "true" : "false"}`;
  if (info.lastFailure !== undefined) json += `,"lastFailure":${failureJson(info.lastFailure)}`;
  if (info.alarms !== undefined) json += `,"alarms":[${info.alarms.map(alarmJson).join(",")}]`;
  return json;
}

function resourcesJson(resources: ProcessInfo["resources"]): string {
  let fields = "";
  if (resources.vcpus !== undefined) fields += `,"vcpus":${number(resources.vcpus)}`;
  if (resources.memory !== undefined) fields += `,"memory":${integer(resources.memory)}`;
  return objectOf(fields + extraJson(resources, RESOURCE_KEYS));
}

const RESOURCE_KEYS: ReadonlySet<string> = new Set(["vcpus", "memory"]);

function limitsJson(limits: ProcessInfo["limits"]): string {
  let fields = "";
  for (const key of PROCESS_LIMIT_KEYS) {
    const value = limits[key];
    if (value !== undefined) fields += `,"${key}":${integer(value)}`;
  }
  return objectOf(fields + extraJson(limits, LIMIT_KEYS));
}

const LIMIT_KEYS: ReadonlySet<string> = new Set(PROCESS_LIMIT_KEYS);

/** An object of fields each written with a leading comma. */
function objectOf(fields: string): string {
  return `{${fields.slice(1)}}`;
}

/** `host`, `port` and `token` are required: the control plane always records all three. */
function connectionJson(connection: ConnectionInfo): string {
  const { host, port, token, path, rendezvous, ticket } = connection;
  let json = `{"host":${text(host)},"port":${integer(port)},"token":${text(token)}`;
  if (path !== undefined) json += `,"path":${text(path)}`;
  if (rendezvous !== undefined)
    json += `,"rendezvous":{"host":${text(rendezvous.host)},"port":${integer(rendezvous.port)}}`;
  if (ticket !== undefined) json += `,"ticket":${text(ticket)}`;
  return `${json}${extraJson(connection, CONNECTION_KEYS)}}`;
}

const CONNECTION_KEYS: ReadonlySet<string> = new Set([
  "host",
  "port",
  "token",
  "path",
  "rendezvous",
  "ticket",
]);

function connectionsJson(connections: NonNullable<ProcessInfo["connections"]>): string {
  let fields = "";
  for (const path of PROCESS_REACHES) {
    const count = connections[path];
    if (count !== undefined) fields += `,"${path}":${integer(count)}`;
  }
  return objectOf(fields);
}

function failureJson({ at, reason }: NonNullable<ProcessInfo["lastFailure"]>): string {
  return `{"at":${text(at)},"reason":${text(reason)}}`;
}

function alarmJson(alarm: AlarmInfo): string {
  const attempts = alarm.attempts === undefined ? "" : `,"attempts":${integer(alarm.attempts)}`;
  return `{"function":${text(alarm.function)},"at":${text(alarm.at)}${attempts}}`;
}

/** Properties the schema does not declare, each with a leading comma; skips what JSON would. */
function extraJson(object: object, declared: ReadonlySet<string>): string {
  let json = "";
  for (const key of Object.keys(object)) {
    const value: unknown = object[key as keyof typeof object];
    if (declared.has(key) || value === undefined) continue;
    if (typeof value === "function" || typeof value === "symbol") continue;
    json += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
  }
  return json;
}

/** What JSON must escape in a string; most strings here have none and are quoted as they are. */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** A string property: null is "", anything else not a string is its text. */
function text(value: unknown): string {
  if (typeof value === "string")
    return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- its text, as the schema's serializer writes it
  return value === null ? '""' : JSON.stringify(String(value));
}

/** An integer property: other numbers are truncated; what has no integer value is refused. */
function integer(value: unknown): string {
  if (Number.isInteger(value)) return String(value);
  const truncated = Math.trunc(value as number);
  if (!Number.isFinite(truncated))
    throw new PraaSError("INTERNAL", `a listed process has ${String(value)} for an integer`);
  return String(truncated);
}

/** A number property: infinities are null, what is not a number is refused. */
function number(value: unknown): string {
  const converted = Number(value);
  if (Number.isNaN(converted))
    throw new PraaSError("INTERNAL", `a listed process has ${String(value)} for a number`);
  return Number.isFinite(converted) ? String(converted) : "null";
}
