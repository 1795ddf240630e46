// The transaction records of the worker link: read sets and commits round-trip exactly, and
// anything malformed is one PROTOCOL_ERROR, never a throw of another kind or a misread.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  PraaSError,
  decodeCommit,
  decodeReadSet,
  encodeCommit,
  encodeReadSet,
  type TxCommitRecord,
} from "../../src/protocol/index.js";

const key = fc.string({ minLength: 1, maxLength: 40 });
const read = fc.record({ key, version: fc.maxSafeInteger().filter((v) => v >= 0) });
const value = fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined });
const writes = fc.uniqueArray(fc.record({ key, value }), { selector: (w) => w.key });
const commit = fc.record({ reads: fc.array(read), writes });

function normalized(record: TxCommitRecord): unknown {
  return {
    reads: record.reads,
    writes: record.writes.map((w) => ({ key: w.key, value: w.value && [...w.value] })),
  };
}

function protocolError(decode: () => unknown): string {
  try {
    decode();
  } catch (error) {
    if (error instanceof PraaSError && error.code === "PROTOCOL_ERROR") return error.message;
    throw error;
  }
  throw new Error("decoded");
}

describe("transaction records", () => {
  it("round-trip read sets and commits", () => {
    fc.assert(
      fc.property(fc.array(read), (reads) => {
        expect(decodeReadSet(encodeReadSet(reads))).toEqual(reads);
      }),
    );
    fc.assert(
      fc.property(commit, (record) => {
        expect(normalized(decodeCommit(encodeCommit(record)))).toEqual(normalized(record));
      }),
    );
  });

  it("refuses every truncation and trailing garbage with PROTOCOL_ERROR", () => {
    fc.assert(
      fc.property(commit, fc.nat(), (record, cut) => {
        const bytes = encodeCommit(record);
        const at = cut % bytes.length;
        expect(protocolError(() => decodeCommit(bytes.subarray(0, at)))).toMatch(/truncated/);
        const longer = Buffer.concat([bytes, Buffer.of(1)]);
        expect(protocolError(() => decodeCommit(longer))).toMatch(/trailing bytes/);
      }),
    );
  });

  it("refuses a key written twice, an unknown write kind and a bad version", () => {
    const twice = encodeCommit({
      reads: [],
      writes: [
        { key: "k", value: undefined },
        { key: "j", value: undefined },
      ],
    });
    twice.write("k", twice.length - 2); // the second key becomes "k" too (its kind is last)
    expect(protocolError(() => decodeCommit(twice))).toMatch(/"k" written twice/);
    const kind = encodeCommit({ reads: [], writes: [{ key: "k", value: undefined }] });
    kind[kind.length - 1] = 7;
    expect(protocolError(() => decodeCommit(kind))).toMatch(/unknown write kind 7/);
    const version = encodeReadSet([{ key: "k", version: 1 }]);
    version.writeDoubleLE(0.5, version.length - 8);
    expect(protocolError(() => decodeReadSet(version))).toMatch(/bad version 0.5/);
  });

  it("refuses to encode a key longer than a length prefix holds", () => {
    const long = "x".repeat(0x10000);
    expect(() => encodeReadSet([{ key: long, version: 0 }])).toThrow(/too long/);
  });
});
