/**
 * Frame metadata: a sequence of UTF-8 strings, each prefixed by its byte length (u16 LE).
 * Small, self-delimiting and cheap to decode; payloads never go through it.
 */
import { PraaSError } from "./errors.js";

export const MAX_FIELD_BYTES = 0xffff;

/**
 * One buffer, each string written straight into it: no buffer per field (these run several
 * times per call, and the garbage was a worker's largest cost after the socket writes).
 */
export function encodeFields(fields: readonly string[]): Buffer {
  let bound = 0;
  for (const field of fields) bound += 2 + field.length * 3; // UTF-8: at most 3 bytes per unit
  const out = Buffer.allocUnsafe(bound);
  let offset = 0;
  for (const field of fields) {
    const length = out.write(field, offset + 2, "utf8");
    if (length > MAX_FIELD_BYTES) throw new PraaSError("BAD_REQUEST", "metadata field too long");
    out.writeUInt16LE(length, offset);
    offset += 2 + length;
  }
  return out.subarray(0, offset);
}

/** Decodes every field; throws PROTOCOL_ERROR when the lengths do not add up. */
export function decodeFields(meta: Uint8Array): string[] {
  const buf = Buffer.isBuffer(meta) ? meta : Buffer.from(meta.buffer, meta.byteOffset, meta.length);
  const fields: string[] = [];
  let offset = 0;
  while (offset < buf.length) {
    if (offset + 2 > buf.length) throw truncated();
    const length = buf.readUInt16LE(offset);
    offset += 2;
    if (offset + length > buf.length) throw truncated();
    fields.push(buf.toString("utf8", offset, offset + length));
    offset += length;
  }
  return fields;
}

/** Decodes and checks that at least `count` fields are present. */
export function expectFields(meta: Uint8Array, count: number, what: string): string[] {
  const fields = decodeFields(meta);
  if (fields.length < count) {
    throw new PraaSError("PROTOCOL_ERROR", `${what}: expected ${count} metadata fields`);
  }
  return fields;
}

function truncated(): PraaSError {
  return new PraaSError("PROTOCOL_ERROR", "truncated metadata field");
}
