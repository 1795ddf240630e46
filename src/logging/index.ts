/**
 * Structured logs (pino) to stderr, so stdout stays free for machine-readable output: JSON
 * lines by default, or one readable line per entry for a person at a terminal (`pretty`).
 */
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export type LogFormat = "json" | "pretty";

export function createLogger(
  name: string,
  level: LogLevel = "info",
  format: LogFormat = "json",
): Logger {
  const destination =
    format === "pretty" ? prettyStderr() : pino.destination({ fd: 2, sync: false });
  return pino({ name, level, base: { pid: process.pid } }, destination);
}

const LEVEL_NAMES: Record<number, [string, string]> = {
  10: ["TRACE", "\x1b[90m"],
  20: ["DEBUG", "\x1b[36m"],
  30: ["INFO ", "\x1b[32m"],
  40: ["WARN ", "\x1b[33m"],
  50: ["ERROR", "\x1b[31m"],
  60: ["FATAL", "\x1b[35m"],
};
const RESET = "\x1b[0m";
const DIM = "\x1b[2m";
/** pino's own fields, shown in the line's head rather than as key=value. */
const HEAD_FIELDS = new Set(["level", "time", "pid", "hostname", "name", "msg"]);

/** `12:00:01.234 INFO  control-plane: message key=value …`, coloured, on stderr. */
function prettyStderr(): DestinationStream {
  return { write: (line: string) => void process.stderr.write(prettyLine(line)) };
}

export function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const [level, colour] = LEVEL_NAMES[Number(entry.level)] ?? ["?    ", ""];
  const time = new Date(Number(entry.time)).toISOString().slice(11, 23);
  const fields = Object.entries(entry)
    .filter(([key]) => !HEAD_FIELDS.has(key))
    .map(
      ([key, value]) =>
        `${DIM}${key}=${RESET}${typeof value === "string" ? value : JSON.stringify(value)}`,
    );
  const head = `${DIM}${time}${RESET} ${colour}${level}${RESET} ${text(entry.name)}: ${text(entry.msg)}`;
  return `${[head, ...fields].join(" ")}\n`;
}

function text(value: unknown): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}
