// The "serialize" setting as praas.json gives it and as one command-line flag carries it.
import { describe, expect, it } from "vitest";
import {
  parseSerializeFlag,
  parseSerializeSetting,
  serializeFlag,
  type PraaSError,
} from "../../src/protocol/index.js";

describe("serialize setting", () => {
  it.each([
    [true, "*"],
    [false, ""],
    [["add", "get"], "add,get"],
    [[], ""],
  ] as const)("%j travels as the flag %j", (setting, flag) => {
    expect(serializeFlag(setting)).toBe(flag);
    const back = parseSerializeFlag(flag);
    expect(back).toEqual(Array.isArray(setting) && setting.length === 0 ? false : setting);
  });

  it("refuses what is neither a boolean nor a list of function names", () => {
    const codeOf = (value: unknown): string => {
      try {
        parseSerializeSetting(value);
      } catch (error) {
        return (error as PraaSError).code;
      }
      return "none";
    };
    expect(codeOf("add")).toBe("BAD_REQUEST");
    expect(codeOf(["no spaces"])).toBe("INVALID_NAME");
    expect(codeOf(undefined)).toBe("none");
    expect(() => parseSerializeFlag("a,b c")).toThrow(/--serialize function/);
  });
});
