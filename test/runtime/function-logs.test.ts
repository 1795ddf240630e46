// The process's record of what its functions wrote, in process (its real use is inside cloud
// processes, whose coverage depends on how they exit): tagged Log frames, untagged pipe lines
// split at newlines with a partial line held back, unknown levels as info, listeners called.
import { describe, expect, it } from "vitest";
import { FrameType, encodeFields } from "../../src/protocol/index.js";
import { FunctionLogs } from "../../src/runtime/function-logs.js";

const frame = (fields: string[], line: string) => ({
  type: FrameType.Log,
  id: 0,
  meta: encodeFields(fields),
  payload: Buffer.from(line),
});

describe("FunctionLogs", () => {
  it("keeps a worker's Log frame tagged with its function and invocation", () => {
    const logs = new FunctionLogs("app", "p1");
    let appended = 0;
    logs.onAppend(() => appended++);
    logs.fromFrame(frame(["warn", "stderr", "add", "p1-1"], "careful"));
    logs.fromFrame(frame(["shout", "other"], "odd"));
    expect(appended).toBe(2);
    const [first, second] = logs.ring.all();
    expect(first).toMatchObject({ app: "app", process: "p1", level: "warn", stream: "stderr" });
    expect(first).toMatchObject({ function: "add", invocationId: "p1-1", message: "careful" });
    expect(second).toMatchObject({ level: "info", stream: "stdout", message: "odd" });
    expect(second?.function).toBeUndefined();
  });

  it("splits pipe output into lines and holds a partial line until its end", () => {
    const logs = new FunctionLogs("app", "p1");
    const sink = logs.pipe("stderr");
    sink(Buffer.from("one\ntw"));
    expect(logs.ring.all().map((r) => r.message)).toEqual(["one"]);
    sink(Buffer.from("o\n"));
    const records = logs.ring.all();
    expect(records.map((r) => r.message)).toEqual(["one", "two"]);
    expect(records[1]).toMatchObject({ level: "error", stream: "stderr" });
  });
});
