import { describe, expect, it } from "vitest";
import { MAX_FIELD_BYTES, decodeFields, encodeFields } from "../../src/protocol/index.js";

describe("metadata fields", () => {
  it("round-trips ASCII, multi-byte text, surrogate pairs and empty fields", () => {
    const fields = ["echo", "", "café", "中文字段", "🚀 launch", "a".repeat(1000)];
    const encoded = encodeFields(fields);
    expect(decodeFields(encoded)).toEqual(fields);
    const bytes = fields.reduce((sum, field) => sum + 2 + Buffer.byteLength(field), 0);
    expect(encoded.length).toBe(bytes);
  });

  it("encodes no fields as no bytes", () => {
    expect(encodeFields([]).length).toBe(0);
    expect(decodeFields(Buffer.alloc(0))).toEqual([]);
  });

  it("takes a field of exactly the largest size and refuses one byte more", () => {
    const largest = "é".repeat((MAX_FIELD_BYTES - 1) / 2) + "x"; // 2-byte characters, then one byte
    expect(Buffer.byteLength(largest)).toBe(MAX_FIELD_BYTES);
    expect(decodeFields(encodeFields(["a", largest]))).toEqual(["a", largest]);
    expect(() => encodeFields([`${largest}x`])).toThrow(
      expect.objectContaining({ code: "BAD_REQUEST" }),
    );
  });

  it("refuses lengths that run past the end", () => {
    const encoded = encodeFields(["hello"]);
    expect(() => decodeFields(encoded.subarray(0, 4))).toThrow(
      expect.objectContaining({ code: "PROTOCOL_ERROR" }),
    );
  });
});
