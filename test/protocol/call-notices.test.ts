import { describe, expect, it } from "vitest";
import {
  NoticeRecords,
  PraaSError,
  invocationIdOf,
  nextU32,
  readCallEnds,
  readCallStarts,
  type CallEndRecord,
  type CallStartRecord,
} from "../../src/protocol/index.js";

function starts(payload: Buffer): CallStartRecord[] {
  const records: CallStartRecord[] = [];
  readCallStarts(payload, (record) => records.push(record));
  return records;
}

function ends(payload: Buffer): CallEndRecord[] {
  const records: CallEndRecord[] = [];
  readCallEnds(payload, (record) => records.push(record));
  return records;
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof PraaSError ? error.code : "not a PraaSError";
  }
}

describe("call notice records", () => {
  it("carry starts, in order, with names in any script and the largest ids", () => {
    const records = new NoticeRecords();
    records.start(7, 1, "echo", 1);
    records.start(0xffffffff, 0xffffffff, "grüß_函数", 0xffffffff, true);
    records.start(0, 2, "", 0);
    expect(starts(records.take())).toEqual([
      { connection: 7, requestId: 1, fn: "echo", invocation: 1, forwarded: false },
      {
        connection: 0xffffffff,
        requestId: 0xffffffff,
        fn: "grüß_函数",
        invocation: 0xffffffff,
        forwarded: true,
      },
      { connection: 0, requestId: 2, fn: "", invocation: 0, forwarded: false },
    ]);
    expect(records.empty).toBe(true);
  });

  it("carry ends with their time, and failures with code and message", () => {
    const records = new NoticeRecords();
    records.end(7, 1, 0.25);
    records.end(7, 2, undefined, { code: "FUNCTION_ERROR", message: "bad «input»" });
    records.end(8, 3);
    expect(ends(records.take())).toEqual([
      { connection: 7, requestId: 1, seconds: 0.25, error: undefined },
      {
        connection: 7,
        requestId: 2,
        seconds: undefined,
        error: { code: "FUNCTION_ERROR", message: "bad «input»" },
      },
      { connection: 8, requestId: 3, seconds: undefined, error: undefined },
    ]);
  });

  it("grow past their first buffer and cut a failure's message at 8192 characters", () => {
    const records = new NoticeRecords();
    for (let id = 1; id <= 500; id++) records.start(1, id, `function${id}`, id);
    const read = starts(records.take());
    expect(read).toHaveLength(500);
    expect(read[499]).toMatchObject({ requestId: 500, fn: "function500", invocation: 500 });
    records.end(1, 1, 0, { code: "INTERNAL", message: "x".repeat(100_000) });
    expect(ends(records.take())[0]?.error?.message).toHaveLength(8192);
  });

  it("refuse truncated records with PROTOCOL_ERROR", () => {
    const records = new NoticeRecords();
    records.start(1, 1, "echo", 1);
    const start = records.take();
    records.end(1, 1, 0, { code: "TIMEOUT", message: "late" });
    const end = records.take();
    for (let cut = 1; cut < start.length; cut++)
      expect(codeOf(() => readCallStarts(start.subarray(0, cut), () => undefined))).toBe(
        "PROTOCOL_ERROR",
      );
    for (let cut = 1; cut < end.length; cut++)
      expect(codeOf(() => readCallEnds(end.subarray(0, cut), () => undefined))).toBe(
        "PROTOCOL_ERROR",
      );
  });

  it("name invocations as the worker does, none for number 0, and wrap ids before 2^32", () => {
    expect(invocationIdOf("p1", 42, 3)).toBe("p1-w42-3");
    expect(invocationIdOf("p1", 42, 0)).toBe("");
    expect(nextU32(0)).toBe(1);
    expect(nextU32(0xfffffffe)).toBe(0xffffffff);
    expect(nextU32(0xffffffff)).toBe(1);
  });
});
