/**
 * `npm run bench -- --compare`: the comparison of two results is a pure function; these check
 * its verdicts and its text without running any experiment.
 */
import { describe, expect, it } from "vitest";
import {
  compareResults,
  judge,
  renderComparison,
  type ComparableResult,
} from "../../src/bench/compare/compare.js";

type Experiment = ComparableResult["experiments"][number];

function experiment(
  name: string,
  ratios: Record<string, number>,
  more: Partial<Experiment> = {},
): Experiment {
  const rows = Object.entries(ratios).map(([label, ratio]) => ({
    label,
    params: { size: 1 },
    ratio,
  }));
  return { name, baseline: "raw echo", higherIsBetter: false, rows, ...more };
}

function result(experiments: Experiment[], mode = "full"): ComparableResult {
  return { date: "2026-11-30", mode, experiments };
}

describe("compareResults", () => {
  it("flags a lower-is-better ratio that grew by more than the tolerance, and only that one", () => {
    const before = result([experiment("direct", { "10 B": 2, "1 KiB": 2, "1 MiB": 2 })]);
    const now = result([experiment("direct", { "10 B": 2.5, "1 KiB": 2.3, "1 MiB": 1.5 })]);
    const verdicts = compareResults(before, now, 0.2).map((r) => [r.label, r.verdict, r.before]);
    expect(verdicts).toEqual([
      ["10 B", "worse", 2],
      ["1 KiB", "same", 2],
      ["1 MiB", "better", 2],
    ]);
  });

  it("reads throughput the other way round: a ratio that fell is worse", () => {
    const rate = (ratio: number): Experiment =>
      experiment("throughput", { "16 in flight": ratio }, { higherIsBetter: true });
    expect(compareResults(result([rate(0.5)]), result([rate(0.3)]))[0]?.verdict).toBe("worse");
    expect(compareResults(result([rate(0.3)]), result([rate(0.5)]))[0]?.verdict).toBe("better");
  });

  it("does not call a row worse when its baseline changed, or new rows and experiments", () => {
    const before = result([experiment("messaging", { "10 B": 0.4 }, { baseline: "Redis" })]);
    const now = result([
      experiment("messaging", { "10 B": 3, "5 MiB": 2 }),
      experiment("density", { "20 active": 2.4 }),
    ]);
    expect(compareResults(before, now).map((r) => r.verdict)).toEqual([
      "baseline changed",
      "new",
      "new",
    ]);
  });

  it("matches the one row with the same parameters when its label changed (density's count)", () => {
    const active = (label: string, ratio: number): Experiment => ({
      ...experiment("density", {}),
      rows: [{ label, params: { active: 1 }, ratio }],
    });
    const [row] = compareResults(
      result([active("200 active", 2)]),
      result([active("150 active", 3)]),
    );
    expect(row).toMatchObject({ label: "150 active", before: 2, verdict: "worse" });
  });

  it("lists a failed experiment as failed and leaves skipped ones out", () => {
    const before = result([experiment("swap", { "1 MiB": 2 }), experiment("nat", { x: 1 })]);
    const now = result([
      experiment("swap", {}, { error: "boom" }),
      experiment("nat", {}, { skipped: "not root" }),
    ]);
    expect(compareResults(before, now)).toEqual([
      { experiment: "swap", label: "(failed)", ratio: NaN, verdict: "failed" },
    ]);
  });
});

describe("judge", () => {
  it("is 'new' when either ratio is missing or not positive", () => {
    expect(judge(Number.NaN, 1, false, 0.2)).toBe("new");
    expect(judge(1, 0, false, 0.2)).toBe("new");
  });
});

describe("renderComparison", () => {
  it("prints both ratios, the change, and names the rows that got worse", () => {
    const before = result([experiment("direct", { "10 B": 2, "1 KiB": 2 })], "quick");
    const now = result([experiment("direct", { "10 B": 3, "1 KiB": 2 })]);
    const text = renderComparison(
      compareResults(before, now),
      { name: "old.json", result: before },
      now,
    );
    expect(text).toContain("old.json (quick, 2026-11-30)");
    expect(text).toContain("that run was --quick, this one --full");
    expect(text).toMatch(/direct\s+10 B\s+3\.00×\s+2\.00×\s+\+50%\s+WORSE/);
    expect(text).toContain("1 row(s) worse by more than 20%: direct 10 B");
  });

  it("says so when the two runs were on different machines", () => {
    const on = (cpu: string): ComparableResult => ({
      ...result([experiment("direct", { "10 B": 2 })]),
      machine: { cpu, cores: 2 },
    });
    const [intel, amd] = [on("Intel Xeon"), on("AMD EPYC")];
    const render = (before: ComparableResult, now: ComparableResult): string =>
      renderComparison(compareResults(before, now), { name: "old.json", result: before }, now);
    expect(render(intel, amd)).toContain(
      "(that run was on Intel Xeon, 2 cores, this one on AMD EPYC, 2 cores:",
    );
    expect(render(amd, amd)).not.toContain("that run was on");
    expect(render(result([]), amd)).not.toContain("that run was on");
  });
});
