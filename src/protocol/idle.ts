/**
 * Scale to zero: a process with no invocation, no message and no open client connection for
 * its idle time is swapped out by the control plane, and resumes on its next use. The idle time
 * is a duration: milliseconds as a number, or a string such as "10m", "30s", "1h", "500ms" (a
 * bare number is milliseconds); 0 means never.
 */
import { PraaSError } from "./errors.js";

/** The longest idle time (a Node timer's limit, about 24.8 days). */
export const MAX_IDLE_SWAP_MS = 2 ** 31 - 1;

/** Why a process was last swapped out: asked for, idle, stopped by a signal, or a control-plane stop. */
export type SwapReason = "request" | "idle" | "signal" | "shutdown";

/**
 * The HELLO name the control plane's own pooled connections carry: they are not a client's,
 * so they do not keep a process from going idle.
 */
export const CONTROL_PLANE_CLIENT = "praas-control-plane";

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `value` as milliseconds; BAD_REQUEST naming `what` when it is not a duration in range. */
export function parseDuration(value: unknown, what: string): number {
  const ms = typeof value === "number" ? value : durationText(value);
  if (ms === undefined || !Number.isInteger(ms) || ms < 0 || ms > MAX_IDLE_SWAP_MS) {
    throw new PraaSError(
      "BAD_REQUEST",
      `${what} must be a duration such as 10m, 30s or 500ms (0: never, at most 24 days), got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

function durationText(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const match = /^(\d{1,10})(ms|s|m|h)?$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * (UNIT_MS[match[2] ?? "ms"] ?? 1);
}
