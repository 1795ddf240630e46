/**
 * The benchmark harness runs and writes a well-formed result. Smoke mode: one size and a few
 * repetitions per experiment; nothing here looks at the timings themselves.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const MAIN = path.resolve("dist/bench/main.js");
const EXPERIMENTS = [
  "direct",
  "local",
  "control-plane",
  "messaging",
  "messaging-redis",
  "state",
  "reduction",
  "throughput",
  "cold-start",
  "resume",
  "swap",
  "durable-puts",
  "recovery",
  "density",
  "docker-cold-start",
  "docker-direct",
  "nat-direct",
  "nat-connect",
];

interface Metric {
  n: number;
  median: number;
  p99: number;
  mean: number;
}

interface Result {
  date: string;
  mode: string;
  machine: { cpu: string; cores: number; node: string };
  experiments: {
    name: string;
    unit: string;
    error?: string;
    skipped?: string;
    rows: { label: string; ours: Metric; baseline: Metric; ratio: number }[];
  }[];
}

function expectMetric(metric: Metric): void {
  for (const value of [metric.n, metric.median, metric.p99, metric.mean]) {
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeGreaterThanOrEqual(0);
  }
  expect(metric.n).toBeGreaterThan(0);
}

describe("npm run bench -- --smoke", () => {
  let out: string;
  let result: Result;

  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), "praas-bench-smoke-"));
    await run(process.execPath, [MAIN, "--smoke", "--out", out], { maxBuffer: 16 << 20 });
    const json = (await readdir(out)).find((name) => /^\d{4}-\d{2}-\d{2}\.json$/.test(name));
    result = JSON.parse(await readFile(path.join(out, json ?? "missing.json"), "utf8")) as Result;
  }, 180_000);

  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it("runs every experiment without errors and records the machine", () => {
    expect(result.mode).toBe("smoke");
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.machine.node).toBe(process.version);
    expect(result.experiments.map((e) => e.name)).toEqual(EXPERIMENTS);
    for (const experiment of result.experiments) expect(experiment.error).toBeUndefined();
  });

  it("gives every row numbers on both sides and ratio = ours / baseline", () => {
    // Only the docker and NAT experiments may skip (no engine or image, not root), saying why.
    for (const experiment of result.experiments.filter((e) => e.skipped === undefined)) {
      expect(experiment.rows.length).toBeGreaterThan(0);
      for (const row of experiment.rows) {
        expectMetric(row.ours);
        expectMetric(row.baseline);
        expect(row.ratio).toBeCloseTo(row.ours.median / row.baseline.median, 2);
      }
    }
  });

  it("writes the Markdown report, latest.md and one SVG chart per experiment", async () => {
    const markdown = await readFile(path.join(out, `${result.date}.md`), "utf8");
    expect(await readFile(path.join(out, "latest.md"), "utf8")).toBe(markdown);
    for (const name of EXPERIMENTS) {
      expect(markdown).toContain(`## ${name}:`);
      const svg = await readFile(path.join(out, `${result.date}-${name}.svg`), "utf8");
      expect(svg.startsWith("<svg")).toBe(true);
      expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    }
  });
});

describe("npm run bench -- --only", () => {
  it("refuses an unknown experiment before starting anything", async () => {
    // Inside this run's private temp dir (the global setup points TMPDIR there), never shared.
    const out = path.join(tmpdir(), `praas-bench-never-written-${process.pid}`);
    const failed = run(process.execPath, [MAIN, "--only", "direct,nope", "--out", out]);
    await expect(failed).rejects.toMatchObject({ code: 2 });
    await expect(failed.catch((e: { stderr: string }) => e.stderr)).resolves.toContain("nope");
    expect(existsSync(out)).toBe(false);
  });
});
