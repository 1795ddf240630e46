// Function logs and metrics, as a user gets them: `praas up`, the SDK, `praas logs`, HTTP.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS, PraaSError, type LogRecord } from "../../src/sdk/index.js";
import { runCli } from "../cli/run-cli.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { startPraaS, testEnv, type RunningPraaS } from "../helpers/praas-up.js";

const TOKEN = "logs-test-token";
const APP = "logger";
const FIXTURE = path.resolve("test/fixtures/apps/logger");
const WAIT_MS = 30_000;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let up: RunningPraaS;
let praas: PraaS;

beforeAll(async () => {
  temp = await makeTempDir("e2e-logs");
  up = await startPraaS({ dataDir: temp.dir, apiToken: TOKEN });
  praas = new PraaS(up.url, { token: TOKEN });
  await praas.deploy(APP, FIXTURE);
  await praas.createProcess(APP, "l1");
}, 120_000);

afterAll(async () => {
  await praas?.close();
  await up?.stop();
  await temp?.remove();
});

function cli(args: string[]) {
  return runCli([...args, "--url", up.url], { env: { PRAAS_API_TOKEN: TOKEN } });
}

/** Polls the logs until `found` holds for them (lines reach the control plane in batches). */
async function logsUntil(found: (records: LogRecord[]) => boolean): Promise<LogRecord[]> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const records = await praas.logs(APP, { process: "l1" });
    if (found(records)) return records;
    if (Date.now() > deadline)
      throw new Error(`logs never matched: ${JSON.stringify(records.slice(-5))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const withMessage = (text: string) => (r: LogRecord) => r.message.includes(text);

describe("function logs", () => {
  it("shows a function's console.log in `praas logs`, tagged with its function and invocation", async () => {
    await praas.invoke(APP, "hello", "world", { process: "l1" });
    const records = await logsUntil((all) => all.some(withMessage("hello world")));
    const line = records.find(withMessage("hello world"));
    expect(line).toMatchObject({ app: APP, process: "l1", function: "hello", level: "info" });
    expect(line?.invocationId).toMatch(/^l1-/);

    const json = await cli(["logs", APP, "l1", "--json"]);
    expect(json.code).toBe(0);
    const parsed = json.stdout
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as LogRecord);
    expect(parsed.some(withMessage("hello world"))).toBe(true);
    const human = await cli(["logs", APP]);
    expect(human.stdout.toString()).toMatch(/Z {2}l1 {2}hello {2}hello world\n/);
  });

  it("names a call the platform failed by the invocation id its own lines carry", async () => {
    // On a direct connection: the worker runs the call itself and the process learns of it
    // from the worker's notice; through the control plane the process's pool runs it.
    const connection = await (await praas.getProcess(APP, "l1")).connect();
    const failed = await connection.invoke("crash", "c1").catch((e: unknown) => e);
    await connection.close();
    expect((failed as PraaSError).code).toBe("WORKER_CRASHED");
    const isFailure = (r: LogRecord) => r.function === "crash" && r.stream === "system";
    const records = await logsUntil(
      (all) => all.some(withMessage("crashing c1")) && all.some(isFailure),
    );
    const own = records.find(withMessage("crashing c1"));
    const failure = records.find(isFailure);
    expect(failure?.message).toContain("WORKER_CRASHED");
    expect(own?.invocationId).toMatch(/^l1-w\d+-\d+$/);
    expect(failure?.invocationId).toBe(own?.invocationId);
  });

  it("keeps writes outside an invocation and raw stdout, untagged", async () => {
    await praas.invoke(APP, "raw", "", { process: "l1" });
    const records = await logsUntil((all) => all.some(withMessage("a raw line")));
    expect(records.find(withMessage("a raw line"))).toMatchObject({ stream: "stdout" });
    expect(records.find(withMessage("a raw line"))?.function).toBeUndefined();
    expect(records.find(withMessage("logger loaded"))?.function).toBeUndefined();
  });

  it("separates the lines of two concurrent invocations", async () => {
    await Promise.all(["A", "B"].map((n) => praas.invoke(APP, "tagged", n, { process: "l1" })));
    const records = await logsUntil((all) =>
      ["A end", "B end"].every((t) => all.some(withMessage(t))),
    );
    const id = (text: string) => records.find(withMessage(text))?.invocationId;
    expect(id("A start")).toBe(id("A end"));
    expect(id("B start")).toBe(id("B end"));
    expect(id("A start")).not.toBe(id("B start"));
    expect(records.find(withMessage("A end"))).toMatchObject({ level: "warn", stream: "stderr" });
  });

  it("shows a thrown error's stack in the logs and, with the local backend, to the caller", async () => {
    const error = await praas.invoke(APP, "boom", "", { process: "l1" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PraaSError);
    expect((error as PraaSError).code).toBe("FUNCTION_ERROR");
    const stack = (error as PraaSError).functionStack ?? "";
    expect(stack).toContain("explodeDeepInside");
    expect(stack).toMatch(/\n\s+at boom \(/); // the function's frames stay...
    expect(stack).not.toContain("worker-bundle.js"); // ...the worker's below them go
    const records = await logsUntil((all) => all.some(withMessage("explodeDeepInside")));
    const line = records.find(withMessage("explodeDeepInside"));
    expect(line).toMatchObject({ level: "error", function: "boom" });
    expect(line?.message).toContain("TypeError: kaboom");
    expect(line?.message).toMatch(/\n\s+at boom \(/);
    expect(line?.message).not.toContain("worker-bundle.js");
  });

  it("`praas logs --follow` prints a line written after it started", async () => {
    const follower = spawn(
      process.execPath,
      [path.resolve("dist/cli/main.js"), "logs", APP, "l1", "--follow", "--url", up.url],
      { env: testEnv({ PRAAS_API_TOKEN: TOKEN }), stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise((resolve) => follower.once("exit", resolve));
    try {
      let output = "";
      const seen = (text: string) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no "${text}" in: ${output}`)), WAIT_MS);
          const check = () => {
            if (!output.includes(text)) return;
            clearTimeout(timer);
            resolve();
          };
          follower.stdout.on("data", (chunk: Buffer) => {
            output += chunk.toString();
            check();
          });
          check();
        });
      await seen("hello world"); // the recent lines come first: the stream is open
      await praas.invoke(APP, "hello", "after-follow", { process: "l1" });
      await seen("hello after-follow");
    } finally {
      follower.kill("SIGINT");
      await exited;
    }
  });

  it("streams Server-Sent Events, behind the API token", async () => {
    const url = `${up.url}/apps/${APP}/logs?follow=1`;
    const refused = await request(url, { headers: { accept: "text/event-stream" } });
    expect(refused.statusCode).toBe(401);
    await refused.body.dump();
    const stop = new AbortController();
    const response = await request(url, {
      headers: { accept: "text/event-stream", authorization: `Bearer ${TOKEN}` },
      signal: stop.signal,
    });
    expect(response.headers["content-type"]).toContain("text/event-stream");
    let text = "";
    const events = (async () => {
      for await (const chunk of response.body) {
        text += (chunk as Buffer).toString();
        if (text.includes("hello sse-line")) return;
      }
    })();
    await praas.invoke(APP, "hello", "sse-line", { process: "l1" });
    await events;
    stop.abort();
    const event = text.split("\n\n").find((e) => e.includes("hello sse-line")) ?? "";
    expect(event).toMatch(/^event: log\ndata: \{/);
    expect(JSON.parse(event.split("data: ")[1] ?? "")).toMatchObject({ function: "hello" });
  });

  it("keeps the logs bounded when a function logs in a loop", async () => {
    const count = 12_000;
    await praas.invoke(APP, "spam", JSON.stringify({ count, size: 1000 }), { process: "l1" });
    const records = await logsUntil((all) =>
      all.some((r) => r.message.startsWith(`${count - 1} `)),
    );
    expect(records.length).toBeLessThanOrEqual(10_000);
    const bytes = records.reduce((sum, r) => sum + r.message.length, 0);
    expect(bytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(await praas.invoke(APP, "hello", "still-here", { process: "l1" })).toBeDefined();
  }, 60_000);
});

async function metricsText(): Promise<string> {
  const response = await request(`${up.url}/metrics`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return response.body.text();
}

/** The value of the sample `name{labels}` (labels in the order the exposition writes them). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function metricsUntil(found: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const text = await metricsText();
    if (found(text)) return text;
    if (Date.now() > deadline) throw new Error(`metrics never matched:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("per-function metrics", () => {
  const labels = (fn: string, outcome: string) =>
    `praas_function_invocations_total{app="${APP}",function="${fn}",process="l1",outcome="${outcome}"}`;

  it("counts a function's calls by outcome, with latencies, and processes by status", async () => {
    const before = sample(await metricsText(), labels("hello", "ok")) ?? 0;
    await praas.invoke(APP, "hello", "counted", { process: "l1" });
    await praas.invoke(APP, "boom", "", { process: "l1" }).catch(() => undefined);
    const text = await metricsUntil(
      (t) =>
        (sample(t, labels("hello", "ok")) ?? 0) > before &&
        (sample(t, labels("boom", "FUNCTION_ERROR")) ?? 0) >= 2,
    );
    const count = `praas_function_duration_seconds_count{app="${APP}",function="hello",process="l1"}`;
    expect(sample(text, count)).toBeGreaterThan(before);
    expect(sample(text, `praas_processes{app="${APP}",status="active"}`)).toBe(1);
    const viaApi = `praas_control_plane_invocation_duration_seconds_count{app="${APP}",function="boom",outcome="FUNCTION_ERROR"}`;
    expect(sample(text, viaApi)).toBeGreaterThanOrEqual(2);
  });

  it("the Grafana dashboard queries only metrics that exist on a live /metrics", async () => {
    const file = path.resolve("deploy/grafana/praas-dashboard.json");
    const dashboard = JSON.parse(await readFile(file, "utf8")) as {
      panels: { targets: { expr: string }[] }[];
    };
    const text = await metricsText();
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    const names = new Set(exprs.flatMap((e) => e.match(/\bpraas_[a-z0-9_]+/g) ?? []));
    const missing = [...names].filter((name) => {
      const base = name.replace(/_(bucket|sum|count)$/, "");
      return !text.includes(`# TYPE ${name} `) && !text.includes(`# TYPE ${base} histogram`);
    });
    expect(missing).toEqual([]);
  });
});
