/**
 * praas.json `"serialize"`: which functions of an application run one invocation at a time per
 * process (an input gate). `true`: every function; a list: those; `false` or absent: none.
 * Stored with the application and handed to every process as one command-line flag.
 */
import { PraaSError } from "./errors.js";
import { assertName } from "./names.js";

export type SerializeSetting = boolean | readonly string[];

const ALL = "*";

/** Validates the manifest's value: a boolean or a list of function names. */
export function parseSerializeSetting(value: unknown, where = `"serialize"`): SerializeSetting {
  if (value === undefined) return false;
  if (typeof value === "boolean") return value;
  if (!Array.isArray(value)) {
    throw new PraaSError("BAD_REQUEST", `${where} must be true, false or a list of function names`);
  }
  for (const name of value) assertName(name, `${where} function`);
  return [...new Set(value as string[])];
}

/** The `--serialize` flag's value: "" none, "*" all, else the names joined by commas. */
export function serializeFlag(setting: SerializeSetting | undefined): string {
  if (setting === true) return ALL;
  return Array.isArray(setting) ? setting.join(",") : "";
}

export function parseSerializeFlag(text: string): SerializeSetting {
  if (text === ALL) return true;
  const names = text.split(",").filter((name) => name !== "");
  return names.length === 0 ? false : parseSerializeSetting(names, "--serialize");
}
