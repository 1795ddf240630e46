/** Structured logs (pino) to stderr, so stdout stays free for machine-readable output. */
import { pino, type Logger } from "pino";

export type { Logger } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export function createLogger(name: string, level: LogLevel = "info"): Logger {
  return pino(
    { name, level, base: { pid: process.pid } },
    pino.destination({ fd: 2, sync: false }),
  );
}
