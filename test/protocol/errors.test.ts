import { describe, expect, it } from "vitest";
import {
  ERROR_CODES,
  PraaSError,
  decodeFields,
  encodeFields,
  THROWN_VALUE_CHARS,
  describeThrown,
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

describe("describeThrown", () => {
  it("shows objects and arrays as JSON, other values as String() does", () => {
    expect(describeThrown({ weird: 42 })).toBe('{"weird":42}');
    expect(describeThrown([1, [2]])).toBe("[1,[2]]");
    expect(describeThrown(42)).toBe("42");
    expect(describeThrown(10n)).toBe("10");
    expect(describeThrown("plain")).toBe("plain");
    expect(describeThrown(undefined)).toBe("undefined");
    expect(describeThrown(null)).toBe("null");
    expect(functionErrorRecord({ weird: 42 })).toEqual({
      code: "FUNCTION_ERROR",
      message: '{"weird":42}',
      errorName: "Error",
    });
  });

  it("falls back to String() when JSON cannot show the value", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(describeThrown(cycle)).toBe("[object Object]");
    expect(describeThrown({ big: 1n })).toBe("[object Object]");
    const throwing = {
      toJSON: () => {
        throw new Error("no");
      },
      toString: () => "shown",
    };
    expect(describeThrown(throwing)).toBe("shown");
  });

  it("never throws, even for values String() refuses", () => {
    expect(describeThrown(Object.create(null) as object)).toBe("{}");
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    expect(describeThrown(revocable.proxy)).toBe("a thrown object that cannot be shown");
  });

  it("cuts long values, and stops reading a huge one early", () => {
    const long = { text: "x".repeat(5000) };
    expect(describeThrown(long)).toBe(`${JSON.stringify(long).slice(0, THROWN_VALUE_CHARS)}…`);
    let read = 0;
    const counted = (i: number) => ({
      toJSON: () => {
        read++;
        return i;
      },
    });
    const huge = Array.from({ length: 100_000 }, (_, i) => counted(i));
    const numbers = Array.from({ length: 100_000 }, (_, i) => i);
    expect(describeThrown(huge)).toBe(`${JSON.stringify(numbers).slice(0, THROWN_VALUE_CHARS)}…`);
    expect(read).toBeLessThan(1000);
  });

  it("writes what JSON.stringify writes", () => {
    const value = {
      a: undefined,
      b: [undefined, () => 1, Symbol("s"), NaN, null, true],
      c: { toJSON: (key: string) => `key ${key}` },
      d: new Date(0),
      'e"f': "g\nh",
      nested: { deeper: [{}, []] },
    };
    expect(describeThrown(value)).toBe(JSON.stringify(value));
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

  it("refuses values that have no bytes instead of storing nothing", () => {
    const badRequest: unknown = expect.objectContaining({ code: "BAD_REQUEST" });
    expect(() => toBytes(Symbol("s") as unknown as object)).toThrow(badRequest);
    expect(() => toBytes(() => 1)).toThrow(badRequest);
    expect(toBytes({ toJSON: () => undefined }).length).toBe(0);
    const unshowable = {
      toJSON: () => {
        throw Object.create(null);
      },
    };
    expect(() => toBytes(unshowable)).toThrow(badRequest);
  });

  it("blames the function, not the caller, for a result that is not JSON", () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const functionError: unknown = expect.objectContaining({ code: "FUNCTION_ERROR" });
    expect(() => resultBytes(circular)).toThrow(functionError);
    expect(() => resultBytes({ big: 1n })).toThrow(functionError);
    expect(resultBytes({ toJSON: () => undefined }).length).toBe(0);
    expect(resultBytes(undefined).length).toBe(0);
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
