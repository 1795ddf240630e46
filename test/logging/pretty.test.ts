import { describe, expect, it } from "vitest";
import { prettyLine } from "../../src/logging/index.js";

const ESCAPE = String.fromCharCode(27);
const plain = (text: string) => text.replaceAll(new RegExp(`${ESCAPE}\\[[0-9;]*m`, "g"), "");

describe("the control plane's log on a terminal", () => {
  it("prints one readable line per JSON entry: time, level, name, message, then fields", () => {
    const entry = {
      level: 40,
      time: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
      pid: 1,
      name: "control-plane",
      msg: "link lost",
      app: "a",
      port: 80,
    };
    expect(plain(prettyLine(JSON.stringify(entry)))).toBe(
      "03:04:05.678 WARN  control-plane: link lost app=a port=80\n",
    );
  });

  it("passes a line that is not JSON through unchanged", () => {
    expect(prettyLine("not json\n")).toBe("not json\n");
  });
});
