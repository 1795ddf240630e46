// /metrics (Prometheus, in the caller's registry) and /openapi.json (generated from the routes).
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHttpServer } from "../../../src/control-plane/http/server.js";
import { FakeService } from "./fake-service.js";
import { startHarness, type Harness } from "./helpers.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.app.close();
});

describe("/metrics", () => {
  it("counts requests by method, route and status, and times them", async () => {
    await h.app.inject({ method: "GET", url: "/apps/counter" });
    await h.app.inject({ method: "GET", url: "/apps/SELF" });
    await h.app.inject({ method: "GET", url: "/missing" });
    const res = await h.app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toContain(
      'praas_http_requests_total{method="GET",route="/apps/:app",status="200"} 1',
    );
    expect(text).toContain(
      'praas_http_requests_total{method="GET",route="/apps/:app",status="400"} 1',
    );
    expect(text).toContain(
      'praas_http_requests_total{method="GET",route="unmatched",status="404"} 1',
    );
    expect(text).toContain("praas_http_request_duration_seconds_bucket");
    expect(text).toContain("process_cpu_user_seconds_total");
  });

  it("uses only the given registry and can share it with a second server", async () => {
    const second = await createHttpServer(new FakeService(), {
      logger: pino({ level: "silent" }),
      bodyLimitBytes: 1024,
      metrics: { registry: h.registry },
    });
    await second.inject({ method: "GET", url: "/apps" });
    await h.app.inject({ method: "GET", url: "/apps" });
    const metric = await h.registry.getSingleMetricAsString("praas_http_requests_total");
    expect(metric).toContain(
      'praas_http_requests_total{method="GET",route="/apps",status="200"} 2',
    );
    expect(new Registry().getMetricsAsArray()).toEqual([]);
    await second.close();
  });
});

/** The HTTP API contract (README, "HTTP API"), plus the system routes. */
const ROUTES: [string, string][] = [
  ["put", "/apps/{app}"],
  ["get", "/apps"],
  ["get", "/apps/{app}"],
  ["delete", "/apps/{app}"],
  ["put", "/apps/{app}/processes/{proc}"],
  ["get", "/apps/{app}/processes"],
  ["get", "/apps/{app}/processes/{proc}"],
  ["post", "/apps/{app}/processes/{proc}/swap"],
  ["post", "/apps/{app}/processes/{proc}/upgrade"],
  ["post", "/apps/{app}/rollback"],
  ["post", "/apps/{app}/processes/{proc}/resume"],
  ["post", "/apps/{app}/processes/{proc}/connect"],
  ["delete", "/apps/{app}/processes/{proc}"],
  ["post", "/apps/{app}/invoke/{fn}"],
  ["get", "/apps/{app}/logs"],
  ["get", "/apps/{app}/processes/{proc}/state"],
  ["get", "/apps/{app}/metrics"],
  ["get", "/apps/{app}/secrets"],
  ["put", "/apps/{app}/secrets/{key}"],
  ["delete", "/apps/{app}/secrets/{key}"],
  ["get", "/healthz"],
  ["get", "/metrics"],
  ["get", "/openapi.json"],
  // HTTP-shaped functions: every method, with and without a path below /http.
  ...["get", "head", "post", "put", "delete", "patch", "options"].flatMap(
    (method): [string, string][] => [
      [method, "/apps/{app}/processes/{proc}/http"],
      [method, "/apps/{app}/processes/{proc}/http/{*}"],
    ],
  ),
];

interface Operation {
  summary?: string;
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, unknown>;
}
type OpenApi = { openapi: string; paths: Record<string, Record<string, Operation>> };

describe("/openapi.json", () => {
  async function document(): Promise<OpenApi> {
    const res = await h.app.inject({ method: "GET", url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    return res.json<OpenApi>();
  }

  it("is OpenAPI 3 and lists every route with a summary and responses", async () => {
    const doc = await document();
    expect(doc.openapi).toMatch(/^3\./);
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => [method, path]),
    );
    expect(listed.sort()).toEqual([...ROUTES].sort());
    for (const [method, path] of ROUTES) {
      const op = doc.paths[path]?.[method];
      expect(op?.summary, `${method} ${path}`).toBeTruthy();
      expect(Object.keys(op?.responses ?? {}).some((s) => s.startsWith("2"))).toBe(true);
    }
  });

  it("documents raw bodies and JSON bodies with their content types", async () => {
    const doc = await document();
    const deploy = doc.paths["/apps/{app}"]?.put?.requestBody?.content ?? {};
    expect(Object.keys(deploy).sort()).toEqual([
      "application/gzip",
      "application/octet-stream",
      "application/x-gzip",
    ]);
    const invoke = doc.paths["/apps/{app}/invoke/{fn}"]?.post;
    expect(Object.keys(invoke?.requestBody?.content ?? {})).toEqual(["application/octet-stream"]);
    expect(JSON.stringify(invoke?.responses["200"])).toContain("x-praas-process");
    const create = doc.paths["/apps/{app}/processes/{proc}"]?.put?.requestBody?.content;
    expect(JSON.stringify(create)).toContain('"additionalProperties":false');
  });
});

describe("logging", () => {
  async function withLogLines(run: (app: Harness["app"]) => Promise<void>): Promise<string[]> {
    const lines: string[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(line) });
    const service = new FakeService();
    service.failWith = new Error("disk on fire");
    const app = await createHttpServer(service, {
      logger,
      bodyLimitBytes: 1024,
      metrics: { registry: new Registry() },
    });
    await run(app);
    await app.close();
    return lines;
  }

  it("logs requests at debug level and a bug at error level with its stack", async () => {
    const lines = await withLogLines(async (app) => {
      await app.inject({ method: "GET", url: "/apps" });
    });
    const records = lines.map((line) => JSON.parse(line) as { level: number; msg: string });
    const info = 30;
    const error = 50;
    const requestLines = records.filter((r) => r.msg.startsWith("request completed"));
    expect(requestLines.length).toBe(1);
    expect(requestLines.every((r) => r.level < info)).toBe(true);
    const bug = records.find((r) => r.level === error);
    expect(bug?.msg).toContain("unhandled error in GET /apps");
    expect(JSON.stringify(bug)).toContain("disk on fire");
  });
});
