import { describe, expect, it } from "vitest";
import { parseInteger } from "../../src/protocol/index.js";

describe("parseInteger, the one integer syntax of flags and registration fields", () => {
  it("reads decimal integers within the bounds", () => {
    expect(parseInteger("0", "n")).toBe(0);
    expect(parseInteger("-12", "n")).toBe(-12);
    expect(parseInteger("65535", "port", 0, 65535)).toBe(65535);
  });

  it.each(["", " 8", "8 ", "1e3", "0x10", "1.5", "12abc", "9007199254740993", "Infinity"])(
    "refuses %j with BAD_REQUEST",
    (text) => {
      expect(() => parseInteger(text, "n")).toThrow(
        expect.objectContaining({ code: "BAD_REQUEST" }),
      );
    },
  );

  it("refuses values out of range and says which range", () => {
    expect(() => parseInteger("65536", "--port", 0, 65535)).toThrow(
      '--port must be an integer in [0, 65535], got "65536"',
    );
    expect(() => parseInteger("0", "--memory", 1)).toThrow("--memory must be a positive integer");
  });
});
