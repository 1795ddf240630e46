/**
 * Scheduled work (`ctx.setAlarm`): what a function asks for, as it travels worker → process →
 * control plane, and the limits both ends check. One alarm per (process, function); the
 * control plane stores them in the process record and fires them (control-plane/alarms.ts).
 */
import { PraaSError } from "./errors.js";

/** The function an alarm invokes when the caller names none. */
export const DEFAULT_ALARM_FUNCTION = "alarm";
/** The largest payload an alarm carries (it is stored in the process record). */
export const MAX_ALARM_PAYLOAD_BYTES = 64 * 1024;
/** The most alarms one process may have set at once. */
export const MAX_ALARMS_PER_PROCESS = 100;
/** The control-link request (process → control plane) that sets or cancels an alarm. */
export const ALARM_REQUEST = "alarm";

/** Set: replaces any alarm of the same function. Cancel: answers whether one was set. */
export type AlarmRequest =
  { op: "set"; function: string; at: number; payload: Buffer } | { op: "cancel"; function: string };

export interface AlarmReply {
  /** Whether an alarm of that function was set before this request. */
  existed: boolean;
}

/** `at` as ms since the epoch: a Date or a finite number, else BAD_REQUEST. */
export function alarmTime(at: unknown): number {
  const ms = at instanceof Date ? at.getTime() : at;
  if (typeof ms !== "number" || !Number.isFinite(ms))
    throw new PraaSError("BAD_REQUEST", `alarm time must be a Date or a finite number of ms`);
  return ms;
}

export function checkAlarmPayload(bytes: number): void {
  if (bytes > MAX_ALARM_PAYLOAD_BYTES)
    throw new PraaSError(
      "BAD_REQUEST",
      `alarm payload of ${bytes} bytes exceeds ${MAX_ALARM_PAYLOAD_BYTES}`,
    );
}

export function checkAlarmFunction(fn: unknown): string {
  if (typeof fn !== "string" || fn.length === 0)
    throw new PraaSError("BAD_REQUEST", "an alarm's function must be a non-empty name");
  return fn;
}

/** A request as frame fields ([op, function, at?]); a set's payload travels as the frame's. */
export function alarmFields(request: AlarmRequest): string[] {
  const { op, function: fn } = request;
  return request.op === "set" ? [op, fn, String(request.at)] : [op, fn];
}

/** The fields and payload of an alarm frame, checked (both the process and the control plane). */
export function parseAlarmFields(fields: readonly string[], payload: Buffer): AlarmRequest {
  const [op, fn, at] = fields;
  const name = checkAlarmFunction(fn);
  if (op === "cancel") return { op, function: name };
  if (op !== "set" || at === undefined || at.trim() === "")
    throw new PraaSError(
      "BAD_REQUEST",
      `an alarm request is [set, function, at] or [cancel, function]`,
    );
  checkAlarmPayload(payload.length);
  return { op, function: name, at: alarmTime(Number(at)), payload };
}
