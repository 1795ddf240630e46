/**
 * `praas.json`: the optional manifest at the root of an application directory. It may name
 * the application, choose the entry module (`main`) and set default process resources.
 * A malformed manifest is a BAD_REQUEST; a missing entry module is a BUILD_FAILED.
 */
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";

import { PraaSError } from "../protocol/errors.js";
import { assertName } from "../protocol/names.js";

export const MANIFEST_FILE = "praas.json";

/** Entry modules tried, in order, when the manifest has no `main`. */
export const DEFAULT_ENTRIES = ["index.ts", "index.js"] as const;

export interface AppDefaults {
  vcpus?: number;
  /** MiB. */
  memory?: number;
}

export interface AppManifest {
  name?: string;
  main?: string;
  defaults: AppDefaults;
}

const TOP_LEVEL_KEYS = new Set(["name", "main", "defaults"]);
const DEFAULTS_KEYS = new Set(["vcpus", "memory"]);

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
  return defaults;
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
  const manifest: AppManifest = { defaults: parseDefaults(raw.defaults) };
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
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { defaults: {} };
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
export async function findEntry(dir: string, manifest?: AppManifest): Promise<string> {
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
