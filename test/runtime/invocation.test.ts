// Direct invocations against a real process: payload sizes, concurrency, recursion, errors.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { THROWN_VALUE_CHARS } from "../../src/protocol/index.js";
import { rejection, text, useSuiteProcess } from "../helpers/process-harness.js";

const suite = useSuiteProcess({ name: "p1", workers: 2 });

describe("direct invocation", () => {
  it.each([10, 1024, 100 * 1024, 1024 * 1024, 5 * 1024 * 1024])(
    "echoes %i bytes exactly",
    async (size) => {
      const payload = randomBytes(size);
      const result = await suite.conn.invoke("echo", payload);
      expect(result.length).toBe(size);
      expect(Buffer.from(result).equals(payload)).toBe(true);
    },
  );

  it("handles empty payloads, void results and JSON results", async () => {
    expect((await suite.conn.invoke("echo")).length).toBe(0);
    expect((await suite.conn.invoke("empty", "x")).length).toBe(0);
    expect(JSON.parse(text(await suite.conn.invoke("json", "abc")))).toEqual({
      length: 3,
      kind: "json",
    });
  });

  it("reports who is running", async () => {
    const who = JSON.parse(text(await suite.conn.invoke("whoami"))) as Record<string, unknown>;
    expect(who).toMatchObject({ processId: "p1", application: "suite", functionName: "whoami" });
    expect(who.processes).toEqual({ active: ["p1"], swapped: [] });
    expect(typeof who.invocationId).toBe("string");
  });

  it("runs many concurrent invocations on one connection across workers", async () => {
    const payloads = Array.from({ length: 200 }, (_, i) =>
      Buffer.from(`payload-${i}-${"x".repeat(i)}`),
    );
    const results = await Promise.all(payloads.map((p) => suite.conn.invoke("echo", p)));
    results.forEach((result, i) => expect(text(result)).toBe(payloads[i]!.toString()));
  });

  it("spreads concurrent invocations over the workers", async () => {
    const pids = await Promise.all([
      suite.conn.invoke("sleepPid", "200"),
      suite.conn.invoke("sleepPid", "200"),
    ]);
    expect(new Set(pids.map(text)).size).toBe(2);
  });

  it("serves invocations from several connections at once", async () => {
    const others = await Promise.all([
      suite.proc.connect(),
      suite.proc.connect(),
      suite.proc.connect(),
    ]);
    const results = await Promise.all(others.map((c, i) => c.invoke("echo", `conn-${i}`)));
    expect(results.map(text)).toEqual(["conn-0", "conn-1", "conn-2"]);
    await Promise.all(others.map((c) => c.close()));
  });

  it("shows every worker the latest state, though workers cache what they read", async () => {
    const readBoth = async (): Promise<{ pid: number; value: string | null }[]> => {
      const request = JSON.stringify({ key: "shared", waitMs: 150 });
      const replies = await Promise.all([0, 1].map(() => suite.conn.invoke("readLater", request)));
      return replies.map((r) => JSON.parse(text(r)) as { pid: number; value: string | null });
    };
    const op = (body: object): Promise<Uint8Array> =>
      suite.conn.invoke("stateOps", JSON.stringify(body));
    await op({ op: "put", key: "shared", value: "v1" });
    const first = await readBoth();
    expect(new Set(first.map((r) => r.pid)).size).toBe(2);
    expect(first.map((r) => r.value)).toEqual(["v1", "v1"]);
    await op({ op: "put", key: "shared", value: "v2" });
    expect((await readBoth()).map((r) => r.value)).toEqual(["v2", "v2"]);
    await op({ op: "delete", key: "shared" });
    expect((await readBoth()).map((r) => r.value)).toEqual([null, null]);
  });

  it("keeps state across invocations", async () => {
    const first = Number(text(await suite.conn.invoke("add", "5")));
    expect(Number(text(await suite.conn.invoke("add", "7")))).toBe(first + 7);
  });

  it("rejects an unknown function with FUNCTION_NOT_FOUND", async () => {
    const error = await rejection(suite.conn.invoke("nope", "x"));
    expect(error.code).toBe("FUNCTION_NOT_FOUND");
    expect(error.message).toContain("nope");
  });

  it("turns a thrown error into FUNCTION_ERROR with its name and message", async () => {
    const error = await rejection(suite.conn.invoke("fail", "42"));
    expect(error.code).toBe("FUNCTION_ERROR");
    expect(error.errorName).toBe("RangeError");
    expect(error.message).toBe("bad input: 42");
    expect(text(await suite.conn.invoke("echo", "still alive"))).toBe("still alive");
  });

  it.each(["throw", "reject"])(
    "a %s of a value that is not an Error shows its content",
    async (how) => {
      const message = async (value: string): Promise<string> => {
        const payload = JSON.stringify({ value, how });
        const error = await rejection(suite.conn.invoke("throwValue", payload));
        expect([error.code, error.errorName]).toEqual(["FUNCTION_ERROR", "Error"]);
        return error.message;
      };
      expect(await message("object")).toBe('{"weird":42}');
      expect(await message("array")).toBe('[1,"two",{"three":3}]');
      expect(await message("number")).toBe("42");
      expect(await message("string")).toBe("plain");
      expect(await message("undefined")).toBe("undefined");
      expect(await message("null")).toBe("null");
      expect(await message("cyclic")).toBe("[object Object]");
      const huge = await message("huge");
      expect(huge).toMatch(/^\{"items":\[0,1,2,3,/);
      expect(huge).toHaveLength(THROWN_VALUE_CHARS + 1);
      expect(huge.endsWith("…")).toBe(true);
    },
  );
});

describe("local invocation", () => {
  it("recurses through ctx.invoke", async () => {
    expect(text(await suite.conn.invoke("power", "2,3"))).toBe("8");
    expect(text(await suite.conn.invoke("power", "3,5"))).toBe("243");
  });

  it("treats a call to SELF as a local invocation", async () => {
    expect(text(await suite.conn.invoke("selfInvoke", "me"))).toBe("me");
  });

  it("gives FUNCTION_NOT_FOUND to a function invoking an unknown function", async () => {
    expect(text(await suite.conn.invoke("callMissing"))).toBe("FUNCTION_NOT_FOUND");
  });
});
