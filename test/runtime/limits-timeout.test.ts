// A late invocation fails alone; a worker is killed only when its event loop is blocked, and
// the invocations it takes down are told which call blocked it.
import { describe, expect, it } from "vitest";
import { rejection, text, useSuiteProcess } from "../helpers/process-harness.js";

const TIMEOUT_MS = 3000;
const suite = useSuiteProcess({ name: "t1", workers: 1, timeoutMs: TIMEOUT_MS });

const pid = async (): Promise<string> => text(await suite.conn.invoke("pid"));

describe("invocation timeouts", () => {
  it("times out a slow async call alone; a call in flight beside it on the same worker succeeds", async () => {
    const before = await pid();
    const settled: string[] = [];
    const slow = rejection(suite.conn.invoke("sleep", "60000")).then((error) => {
      settled.push("slow");
      return error;
    });
    // Start the second call 1 s later, so the first one's deadline passes while it runs.
    await suite.conn.invoke("sleep", "1000");
    const beside = suite.conn.invoke("sleep", String(TIMEOUT_MS - 500)).then((out) => {
      settled.push("beside");
      return text(out);
    });
    expect((await slow).code).toBe("TIMEOUT");
    expect(await beside).toBe("slept");
    expect(settled).toEqual(["slow", "beside"]);
    expect(await pid()).toBe(before);
  });

  it("kills a worker whose event loop a call blocks; the others there say which call it was", async () => {
    const before = await pid();
    const spin = rejection(suite.conn.invoke("spin"));
    const other = rejection(suite.conn.invoke("sleep", "60000"));
    const spinError = await spin;
    expect(spinError.code).toBe("TIMEOUT");
    const otherError = await other;
    expect(otherError.code).toBe("WORKER_CRASHED");
    expect(otherError.message).toMatch(
      /worker killed: invocation \S+ of spin blocked its event loop past its 3000 ms timeout/,
    );
    const after = await pid();
    expect(after).not.toBe(before);
    expect(text(await suite.conn.invoke("echo", "alive"))).toBe("alive");
  });
});
