// The dashboard's arithmetic: rates and mean latencies from cumulative counters.
import { describe, expect, it } from "vitest";
import type { AppMetricsSummary } from "../../src/protocol/index.js";
import { WINDOW_MS, addSample, recentRate, series, toSample } from "../../src/ui/rates.js";

function summary(at: number, counts: Record<string, [number, number]>): AppMetricsSummary {
  const processes = Object.entries(counts).map(([process, [count, seconds]]) => ({
    process,
    functions: [{ function: "f", outcomes: { ok: count }, count, latencySumSeconds: seconds }],
  }));
  return { app: "a", at, processes };
}

describe("dashboard rates", () => {
  it("takes the call rate per process and for the app over the recent reads", () => {
    let samples = addSample([], toSample(summary(0, { p1: [0, 0], p2: [0, 0] })));
    samples = addSample(samples, toSample(summary(2_000, { p1: [10, 0.1], p2: [4, 0.4] })));
    expect(recentRate(samples, "p1")).toBe(5);
    expect(recentRate(samples, "p2")).toBe(2);
    expect(recentRate(samples)).toBe(7);
    expect(recentRate(samples, "absent")).toBe(0);
  });

  it("charts calls/s and mean latency in ms, null where nothing ran", () => {
    const reads = [
      summary(0, { p1: [0, 0] }),
      summary(1_000, { p1: [4, 0.04] }),
      summary(2_000, { p1: [4, 0.04] }),
    ];
    const samples = reads.map(toSample).reduce(addSample, []);
    const [times, rates, latencies] = series(samples);
    expect(times).toEqual([1, 2]);
    expect(rates).toEqual([4, 2]); // the second point averages over both seconds
    expect(latencies[0]).toBeCloseTo(10);
    expect(latencies[1]).toBeCloseTo(10);
    expect(series(samples.slice(0, 1))).toEqual([[], [], []]);
  });

  it("forgets reads older than the charts' window and never shows a negative rate", () => {
    const old = toSample(summary(0, { p1: [100, 1] }));
    const next = toSample(summary(WINDOW_MS + 1, { p1: [3, 0.1] }));
    expect(addSample([old], next)).toEqual([next]);
    const dropped = [
      toSample(summary(0, { p1: [100, 1] })),
      toSample(summary(1_000, { p1: [3, 0.1] })),
    ];
    expect(recentRate(dropped, "p1")).toBe(0);
  });
});
