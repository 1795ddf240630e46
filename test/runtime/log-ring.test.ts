import { describe, expect, it } from "vitest";
import type { LogRecord } from "../../src/protocol/index.js";
import { LogRing } from "../../src/runtime/log-ring.js";

const line = (message: string): LogRecord => ({
  time: 0,
  level: "info",
  stream: "stdout",
  app: "a",
  process: "p",
  message,
});

describe("a bounded log ring", () => {
  it("keeps at most maxRecords, newest last", () => {
    const ring = new LogRing({ maxRecords: 3, maxBytes: 1e9 });
    for (let i = 0; i < 10; i++) ring.append(line(String(i)));
    expect(ring.all().map((r) => r.message)).toEqual(["7", "8", "9"]);
  });

  it("keeps at most maxBytes, evicting the oldest", () => {
    const ring = new LogRing({ maxRecords: 1e9, maxBytes: 1000 });
    for (let i = 0; i < 100; i++) ring.append(line("x".repeat(200)));
    expect(ring.bytes).toBeLessThanOrEqual(1000);
    expect(ring.size).toBeGreaterThan(0);
  });

  it("tells a reader that fell behind how many records it missed", () => {
    const ring = new LogRing({ maxRecords: 5, maxBytes: 1e9 });
    for (let i = 0; i < 12; i++) ring.append(line(String(i)));
    const read = ring.read(0);
    expect(read.dropped).toBe(7);
    expect(read.records.map((r) => r.message)).toEqual(["7", "8", "9", "10", "11"]);
    expect(read.next).toBe(12);
    expect(ring.read(read.next)).toEqual({ records: [], next: 12, dropped: 0 });
  });
});
