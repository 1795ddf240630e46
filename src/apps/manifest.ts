/**
 * `praas.json`: the optional manifest at the root of an application directory. It may name
 * the application, choose the entry module (`main`), set default process resources and limits,
 * declare the environment its functions see (`env`), ask for what workers may not do by
 * default (`permissions`) and name functions that run one invocation at a time (`serialize`). A malformed manifest is a BAD_REQUEST; a missing entry module is a
 * BUILD_FAILED.
 */
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";

import { PraaSError } from "../protocol/errors.js";
import { parseProcessLimits, type ProcessLimits } from "../protocol/limits.js";
import { assertName } from "../protocol/names.js";
import { NO_PERMISSIONS, type AppEnv, type AppPermissions } from "../protocol/permissions.js";
import { parseSerializeSetting, type SerializeSetting } from "../protocol/serialize.js";

export type { AppEnv, AppPermissions } from "../protocol/permissions.js";

export const MANIFEST_FILE = "praas.json";

/** Entry modules tried, in order, when the manifest has no `main`. */
export const DEFAULT_ENTRIES = ["index.ts", "index.js"] as const;

export interface AppDefaults {
  vcpus?: number;
  /** MiB. */
  memory?: number;
  /** Default per-process limits (see src/protocol/limits.ts). */
  limits?: ProcessLimits;
}

export interface AppManifest {
  name?: string;
  main?: string;
  defaults: AppDefaults;
  env: AppEnv;
  permissions: AppPermissions;
  /** Invocations of these functions (`true`: all) run one at a time per process. */
  serialize: SerializeSetting;
}

/** Bounds of the app environment: it is copied into every worker's environment block. */
export const APP_ENV_LIMITS = Object.freeze({ entries: 256, nameBytes: 128, valueBytes: 32_768 });
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
/** Names the platform uses itself: PRAAS_* for its own settings, TMPDIR for the scratch dir. */
const RESERVED_ENV_PREFIX = "PRAAS_";
const RESERVED_ENV_NAMES = new Set(["TMPDIR"]);

const TOP_LEVEL_KEYS = new Set(["name", "main", "defaults", "env", "permissions", "serialize"]);
const DEFAULTS_KEYS = new Set(["vcpus", "memory", "limits"]);
const PERMISSION_KEYS = new Set(Object.keys(NO_PERMISSIONS));

function badManifest(message: string): PraaSError {
  return new PraaSError("BAD_REQUEST", `${MANIFEST_FILE}: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Unknown keys are rejected so that a typo ("memroy") is an error, not a silent default.
function rejectUnknownKeys(record: Record<string, unknown>, allowed: Set<string>, where: string) {
  const unknown = Object.keys(record).filter((key) => !allowed.has(key));
  if (unknown.length > 0) {
    const list = [...allowed].join(", ");
    throw badManifest(`unknown key ${JSON.stringify(unknown[0])} in ${where} (allowed: ${list})`);
  }
}

function parseName(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  try {
    assertName(value, "application");
  } catch (error) {
    throw badManifest((error as Error).message);
  }
  return value;
}

function parseMain(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") {
    throw badManifest(`"main" must be a non-empty string`);
  }
  const normalized = normalize(value);
  if (isAbsolute(value) || normalized === ".." || normalized.startsWith(`..${sep}`)) {
    throw badManifest(`"main" must be a path inside the application directory, got ${value}`);
  }
  return value;
}

function parsePositive(value: unknown, key: string, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const valid = typeof value === "number" && Number.isFinite(value) && value > 0;
  if (!valid || (integer && !Number.isInteger(value))) {
    const kind = integer ? "a positive integer" : "a positive number";
    throw badManifest(`"defaults.${key}" must be ${kind}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function parseDefaults(value: unknown): AppDefaults {
  if (value === undefined) return {};
  if (!isRecord(value)) throw badManifest(`"defaults" must be an object`);
  rejectUnknownKeys(value, DEFAULTS_KEYS, `"defaults"`);
  const defaults: AppDefaults = {};
  const vcpus = parsePositive(value.vcpus, "vcpus", false);
  const memory = parsePositive(value.memory, "memory", true);
  if (vcpus !== undefined) defaults.vcpus = vcpus;
  if (memory !== undefined) defaults.memory = memory;
  if (value.limits !== undefined) defaults.limits = parseLimits(value.limits);
  return defaults;
}

function parseLimits(value: unknown): ProcessLimits {
  try {
    return parseProcessLimits(value, `"defaults.limits"`);
  } catch (error) {
    throw badManifest((error as Error).message);
  }
}

function checkEnvEntry(name: string, value: unknown): string {
  const problem = envEntryProblem(name, value, "env");
  if (problem !== undefined) throw badManifest(problem);
  return value as string;
}

/**
 * What is wrong with one entry of an application's environment (`what`: "env" for the
 * manifest, "secret" for secrets), or undefined: names `[A-Z_][A-Z0-9_]*`, not PRAAS_* nor
 * TMPDIR; string values without NUL, of bounded size.
 */
export function envEntryProblem(name: string, value: unknown, what: string): string | undefined {
  if (!ENV_NAME.test(name) || name.length > APP_ENV_LIMITS.nameBytes)
    return `"${what}" name ${JSON.stringify(name)} must match [A-Z_][A-Z0-9_]* (at most ${APP_ENV_LIMITS.nameBytes} characters)`;
  if (name.startsWith(RESERVED_ENV_PREFIX) || RESERVED_ENV_NAMES.has(name))
    return `"${what}" name ${name} is reserved for the platform`;
  if (typeof value !== "string" || value.includes("\0"))
    return `"${what}.${name}" must be a string without NUL characters`;
  if (Buffer.byteLength(value) > APP_ENV_LIMITS.valueBytes)
    return `"${what}.${name}" is longer than ${APP_ENV_LIMITS.valueBytes} bytes`;
  return undefined;
}

/**
 * Validates an application environment (the manifest's `"env"`, later also secrets set through
 * the API): names `[A-Z_][A-Z0-9_]*`, not PRAAS_* nor TMPDIR, string values, bounded sizes.
 */
export function parseAppEnv(value: unknown): AppEnv {
  if (value === undefined) return {};
  if (!isRecord(value)) throw badManifest(`"env" must be an object of strings`);
  const entries = Object.entries(value);
  if (entries.length > APP_ENV_LIMITS.entries) {
    throw badManifest(`"env" has more than ${APP_ENV_LIMITS.entries} entries`);
  }
  const env: AppEnv = {};
  for (const [name, entry] of entries) env[name] = checkEnvEntry(name, entry);
  return env;
}

/** Validates the manifest's `"permissions"`: booleans, each false unless given. */
export function parsePermissions(value: unknown): AppPermissions {
  if (value === undefined) return { ...NO_PERMISSIONS };
  if (!isRecord(value)) throw badManifest(`"permissions" must be an object`);
  rejectUnknownKeys(value, PERMISSION_KEYS, `"permissions"`);
  const permissions = { ...NO_PERMISSIONS };
  for (const key of PERMISSION_KEYS) {
    const given = value[key];
    if (given === undefined) continue;
    if (typeof given !== "boolean") throw badManifest(`"permissions.${key}" must be true or false`);
    permissions[key as keyof AppPermissions] = given;
  }
  return permissions;
}

function parseSerialize(value: unknown): SerializeSetting {
  try {
    return parseSerializeSetting(value);
  } catch (error) {
    throw badManifest((error as Error).message);
  }
}

/** Validates the text of a `praas.json`. */
export function parseManifest(text: string): AppManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw badManifest(`invalid JSON: ${(error as Error).message}`);
  }
  if (!isRecord(raw)) throw badManifest("must be a JSON object");
  rejectUnknownKeys(raw, TOP_LEVEL_KEYS, "the manifest");
  const manifest: AppManifest = {
    defaults: parseDefaults(raw.defaults),
    env: parseAppEnv(raw.env),
    permissions: parsePermissions(raw.permissions),
    serialize: parseSerialize(raw.serialize),
  };
  const name = parseName(raw.name);
  const main = parseMain(raw.main);
  if (name !== undefined) manifest.name = name;
  if (main !== undefined) manifest.main = main;
  return manifest;
}

/** Reads `dir/praas.json`; an absent manifest is an empty one. */
export async function readManifest(dir: string): Promise<AppManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return parseManifest("{}");
    throw error;
  }
  return parseManifest(text);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * The entry module of the application in `dir`, relative to `dir`: the manifest's `main`,
 * else the first of {@link DEFAULT_ENTRIES} that exists.
 */
export async function findEntry(
  dir: string,
  manifest?: Pick<AppManifest, "main">,
): Promise<string> {
  const main = (manifest ?? (await readManifest(dir))).main;
  if (main !== undefined) {
    if (await isFile(join(dir, main))) return main;
    throw new PraaSError(
      "BUILD_FAILED",
      `entry ${main} (the "main" of ${MANIFEST_FILE}) not found`,
    );
  }
  for (const candidate of DEFAULT_ENTRIES) {
    if (await isFile(join(dir, candidate))) return candidate;
  }
  const tried = DEFAULT_ENTRIES.join(" or ");
  throw new PraaSError(
    "BUILD_FAILED",
    `no entry module: add ${tried}, or set "main" in ${MANIFEST_FILE}`,
  );
}
