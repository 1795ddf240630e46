/** What a user may hand us as a value: bytes, a UTF-8 string, or a JSON-serialisable object. */
import { PraaSError } from "./errors.js";

export type Value = Uint8Array | string | object;

const EMPTY = new Uint8Array(0);

/** Converts a user value to bytes without copying bytes that already are bytes. */
export function toBytes(value: Value | undefined | null): Uint8Array {
  if (value === undefined || value === null) return EMPTY;
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return jsonBytes(value);
}

/** Converts what a function returned: like {@link toBytes}, plus numbers and booleans as JSON. */
export function resultBytes(value: unknown): Uint8Array {
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return Buffer.from(String(value), "utf8");
  }
  if (typeof value === "function" || typeof value === "symbol") {
    throw new PraaSError("FUNCTION_ERROR", `a function cannot return a ${typeof value}`);
  }
  return toBytes(value as Value | undefined);
}

function jsonBytes(value: object): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new PraaSError("BAD_REQUEST", `value is not JSON-serialisable: ${String(error)}`);
  }
  return Buffer.from(text ?? "", "utf8");
}
