/**
 * Frame metadata: a sequence of UTF-8 strings, each prefixed by its byte length (u16 LE).
 * Small, self-delimiting and cheap to decode; payloads never go through it.
 */
import { PraaSError } from "./errors.js";

export const MAX_FIELD_BYTES = 0xffff;

export function encodeFields(fields: readonly string[]): Buffer {
  const encoded = fields.map((field) => Buffer.from(field, "utf8"));
  let size = 0;
  for (const bytes of encoded) size += 2 + bytes.length;
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const bytes of encoded) {
    if (bytes.length > MAX_FIELD_BYTES)
      throw new PraaSError("BAD_REQUEST", "metadata field too long");
    offset = out.writeUInt16LE(bytes.length, offset);
    offset += bytes.copy(out, offset);
  }
  return out;
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
