import { describe, expect, it } from "vitest";
import {
  ERROR_CODES,
  PraaSError,
  decodeFields,
  encodeFields,
  ensurePraaSError,
  functionErrorRecord,
  resultBytes,
  toBytes,
} from "../../src/protocol/index.js";

describe("PraaSError", () => {
  it.each(ERROR_CODES)("round-trips code %s through its record", (code) => {
    const rebuilt = PraaSError.fromRecord(
      new PraaSError(code, "msg", { errorName: "E" }).toRecord(),
    );
    expect(rebuilt).toBeInstanceOf(PraaSError);
    expect([rebuilt.code, rebuilt.message, rebuilt.errorName]).toEqual([code, "msg", "E"]);
  });

  it("maps an unknown code to INTERNAL, keeping the original code in the message", () => {
    const rebuilt = PraaSError.fromRecord({ code: "FROM_THE_FUTURE", message: "hi" });
    expect(rebuilt.code).toBe("INTERNAL");
    expect(rebuilt.message).toContain("FROM_THE_FUTURE");
  });

  it("records a user error as FUNCTION_ERROR with its name and stack", () => {
    const record = functionErrorRecord(new TypeError("nope"));
    expect(record).toMatchObject({
      code: "FUNCTION_ERROR",
      message: "nope",
      errorName: "TypeError",
    });
    expect(record.stack).toMatch(/^TypeError: nope\n {4}at /);
    const rebuilt = PraaSError.fromRecord(record);
    expect(rebuilt.functionStack).toBe(record.stack);
    expect(rebuilt.withoutStack().toRecord()).not.toHaveProperty("stack");
    expect(functionErrorRecord("plain")).toMatchObject({
      code: "FUNCTION_ERROR",
      message: "plain",
    });
    expect(ensurePraaSError(new Error("x"), "STORAGE_ERROR").code).toBe("STORAGE_ERROR");
  });
});

describe("values and fields", () => {
  it("converts values to bytes", () => {
    expect(Buffer.from(toBytes("héllo")).toString()).toBe("héllo");
    expect(Buffer.from(toBytes({ a: 1 })).toString()).toBe('{"a":1}');
    const bytes = new Uint8Array([1, 2, 3]);
    expect(toBytes(bytes)).toBe(bytes);
    expect(toBytes(undefined).length).toBe(0);
    expect(Buffer.from(resultBytes(42)).toString()).toBe("42");
    expect(() =>
      toBytes({
        toJSON: () => {
          throw new Error("no");
        },
      }),
    ).toThrow(PraaSError);
  });

  it("round-trips metadata fields, including empty and unicode strings", () => {
    const fields = ["", "echo", "ключ", "a".repeat(1000)];
    expect(decodeFields(encodeFields(fields))).toEqual(fields);
  });

  it("rejects truncated metadata with PROTOCOL_ERROR", () => {
    const bytes = encodeFields(["hello"]).subarray(0, 4);
    expect(() => decodeFields(bytes)).toThrow(expect.objectContaining({ code: "PROTOCOL_ERROR" }));
  });
});
