/**
 * What the CLI prints: results on stdout (JSON with `--json`, else readable lines or tables)
 * and failures as ONE line on stderr, `error [CODE]: message` (a JSON error record with
 * `--json`), so scripts can grep or parse it.
 */
import { ensurePraaSError } from "../protocol/errors.js";

export interface OutputFlags {
  json?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints `value` as JSON with `--json`, else as `render` formats it. */
export function printResult<T>(flags: OutputFlags, value: T, render: (value: T) => string): void {
  if (flags.json === true) printJson(value);
  else process.stdout.write(`${render(value)}\n`);
}

/** Multi-line messages (compiler output, suggestions) are folded so the error stays one line. */
function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, " | ");
}

export function formatErrorLine(error: unknown): string {
  const praasError = ensurePraaSError(error);
  return `error [${praasError.code}]: ${oneLine(praasError.message)}`;
}

/** One line on stderr: `error [CODE]: message`, or the `{error: {code, message}}` record as JSON. */
export function printError(error: unknown, flags: OutputFlags = {}): void {
  if (flags.json !== true) {
    process.stderr.write(`${formatErrorLine(error)}\n`);
    return;
  }
  process.stderr.write(`${JSON.stringify({ error: ensurePraaSError(error).toRecord() })}\n`);
}

/** Commander's own messages ("error: unknown option ...") in our error-line format. */
export function formatUsageError(message: string): string {
  return `error [BAD_REQUEST]: ${oneLine(message.replace(/^error:\s*/, ""))}\n`;
}

/** `key: value` lines with the values aligned; undefined values are left out. */
export function formatFields(fields: [string, string | undefined][]): string {
  const present = fields.filter((field): field is [string, string] => field[1] !== undefined);
  const width = Math.max(...present.map(([key]) => key.length)) + 1;
  return present.map(([key, value]) => `${`${key}:`.padEnd(width)} ${value}`).join("\n");
}

/** A plain-text table: a header row, then one row per item, columns padded to fit. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 ? 0 : 1;
  return `${value.toFixed(digits)} ${BYTE_UNITS[unit] ?? "B"}`;
}
