/** What a user may hand us as a value: bytes, a UTF-8 string, or a JSON-serialisable object. */
import { PraaSError, type ErrorCode } from "./errors.js";
import { describeThrown } from "./thrown.js";

export type Value = Uint8Array | string | object;

const EMPTY = new Uint8Array(0);

/** Who is told a value has no bytes: the caller who wrote it, or the function that returned it. */
interface Blame {
  code: ErrorCode;
  what: string;
}

const WRITTEN: Blame = { code: "BAD_REQUEST", what: "a value" };
const RETURNED: Blame = { code: "FUNCTION_ERROR", what: "a function's result" };

/**
 * Converts a user value to bytes without copying bytes that already are bytes; a function or a
 * symbol, which have none, is refused (BAD_REQUEST) rather than written as nothing.
 */
export function toBytes(value: Value | undefined | null): Uint8Array {
  return bytesOf(value, WRITTEN);
}

/**
 * Converts what a function returned: like {@link toBytes}, plus numbers and booleans as JSON;
 * a result that has no bytes is the function's error (FUNCTION_ERROR), not the caller's.
 */
export function resultBytes(value: unknown): Uint8Array {
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return Buffer.from(String(value), "utf8");
  }
  return bytesOf(value, RETURNED);
}

function bytesOf(value: unknown, blame: Blame): Uint8Array {
  if (value === undefined || value === null) return EMPTY;
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof value === "function" || typeof value === "symbol") {
    throw new PraaSError(blame.code, `${blame.what} cannot be a ${typeof value}`);
  }
  return jsonBytes(value, blame);
}

function jsonBytes(value: unknown, blame: Blame): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new PraaSError(blame.code, `${blame.what} is not JSON-serialisable: ${reason(error)}`);
  }
  return Buffer.from(text ?? "", "utf8");
}

/** What JSON.stringify threw (its TypeError, or whatever a user's toJSON threw), never throwing. */
function reason(error: unknown): string {
  try {
    return error instanceof Error ? String(error) : describeThrown(error);
  } catch {
    return describeThrown(error);
  }
}
