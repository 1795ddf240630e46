// The settler of records a failed operation left mid-way: it tries at once (once the operation
// is off the books, a timer later), retries with growing pauses while the store fails, gives up
// after about ten minutes with a warning, and stop() cancels what is pending.
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LeftoverSettler } from "../../src/control-plane/leftovers.js";

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

function capturedLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: pino({ level: "warn" }, stream), lines };
}

/** A settle that fails `failures` times, then succeeds; records when it was called. */
function flakySettle(failures: number) {
  const calls: number[] = [];
  const settle = vi.fn((_app: string, _name: string, _failedAt: number) => {
    calls.push(Date.now());
    return calls.length <= failures ? Promise.reject(new Error("store down")) : Promise.resolve();
  });
  return { settle, calls };
}

describe("LeftoverSettler", () => {
  it("settles a timer later, not within the failed operation's own turn", async () => {
    const { settle } = flakySettle(0);
    const settler = new LeftoverSettler(settle, capturedLog().log);
    const failedAt = Date.now();
    settler.schedule("app", "p");
    expect(settle).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(0);
    expect(settle).toHaveBeenCalledWith("app", "p", failedAt);
  });

  it("retries with growing pauses while settling fails, then stops once it worked", async () => {
    const { settle, calls } = flakySettle(3);
    const settler = new LeftoverSettler(settle, capturedLog().log);
    const start = Date.now();
    settler.schedule("app", "p");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.map((at) => at - start)).toEqual([0, 250, 750, 1750]);
  });

  it("gives up with a warning after its attempts, the pause capped meanwhile", async () => {
    const { settle, calls } = flakySettle(Infinity);
    const { log, lines } = capturedLog();
    new LeftoverSettler(settle, log).schedule("app", "p");
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    const pauses = calls.slice(1).map((at, i) => at - calls[i]!);
    expect(Math.max(...pauses)).toBe(5_000);
    expect(calls.length).toBeGreaterThan(100);
    expect(calls.at(-1)! - calls[0]!).toBeLessThan(15 * 60_000);
    expect(lines.join("")).toContain("gave up settling a failed operation");
  });

  it("runs a settle of its own, with attempts of its own (unbounded: past ten minutes)", async () => {
    const { settle: fallback } = flakySettle(0);
    const { settle, calls } = flakySettle(200);
    const settler = new LeftoverSettler(fallback, capturedLog().log);
    settler.schedule("app", "p", settle, Infinity);
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(fallback).not.toHaveBeenCalled();
    expect(calls.length).toBe(201); // 200 failures, then the write that worked
    expect(calls.at(-1)! - calls[0]!).toBeGreaterThan(15 * 60_000);
  });

  it("does nothing more once stopped", async () => {
    const { settle, calls } = flakySettle(Infinity);
    const settler = new LeftoverSettler(settle, capturedLog().log);
    settler.schedule("app", "p");
    await vi.advanceTimersByTimeAsync(1_000);
    const before = calls.length;
    settler.stop();
    settler.schedule("app", "q");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.length).toBe(before);
  });
});
