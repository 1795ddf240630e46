// The dashboard's routes: its static files (public, no data) and the API it reads (behind auth).
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../helpers/process-harness.js";
import { errorOf, startHarness, type Harness } from "./helpers.js";

const TOKEN = "dash-token";
const auth = { authorization: `Bearer ${TOKEN}` };
let h: Harness;
let temp: Awaited<ReturnType<typeof makeTempDir>>;

beforeAll(async () => {
  temp = await makeTempDir("dashboard-routes");
  const uiDir = path.join(temp.dir, "ui");
  await mkdir(uiDir);
  await writeFile(path.join(uiDir, "index.html"), "<!doctype html><title>PraaS</title>");
  await writeFile(path.join(uiDir, "app.js"), "console.log(1)");
  await writeFile(path.join(temp.dir, "secret.js"), "outside");
  h = await startHarness({ apiToken: TOKEN, uiDir });
});

afterAll(async () => {
  await h?.app.close();
  await temp?.remove();
});

describe("dashboard files", () => {
  it("serves the page at /ui and /ui/ without a token", async () => {
    for (const url of ["/ui", "/ui/"]) {
      const res = await h.app.inject({ method: "GET", url });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^text\/html/);
      expect(res.body).toContain("<title>PraaS</title>");
      expect(res.headers["content-security-policy"]).toMatch(/^default-src 'self'/);
    }
  });

  it("serves a bundled asset with its type", async () => {
    const res = await h.app.inject({ method: "GET", url: "/ui/app.js" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/javascript/);
  });

  it("serves nothing outside its folder, nor unknown files", async () => {
    for (const url of ["/ui/..%2Fsecret.js", "/ui/missing.js", "/ui/index.exe"]) {
      const res = await h.app.inject({ method: "GET", url });
      expect(res.statusCode).toBe(404);
      expect(errorOf(res).code).toBe("NOT_FOUND");
    }
  });
});

describe("dashboard data", () => {
  it("lists a process's state keys, only with the token", async () => {
    const url = "/apps/a1/processes/p1/state";
    expect((await h.app.inject({ method: "GET", url })).statusCode).toBe(401);
    const res = await h.app.inject({ method: "GET", url, headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      keys: [{ key: "sum", size: 2, updatedAt: "2024-01-01T00:00:00.000Z" }],
      totalKeys: 1,
      totalBytes: 2,
    });
    expect(h.service.calls.at(-1)).toEqual({ method: "processState", args: ["a1", "p1"] });
  });

  it("summarises an application's invocation counters, only with the token", async () => {
    const url = "/apps/a1/metrics";
    expect((await h.app.inject({ method: "GET", url })).statusCode).toBe(401);
    const res = await h.app.inject({ method: "GET", url, headers: auth });
    expect(res.statusCode).toBe(200);
    const summary = res.json<{ processes: { process: string; functions: unknown[] }[] }>();
    expect(summary.processes[0]).toMatchObject({
      process: "p1",
      functions: [{ function: "add", outcomes: { ok: 3 }, count: 3, latencySumSeconds: 0.003 }],
    });
  });

  it("checks names before asking the service", async () => {
    const res = await h.app.inject({ method: "GET", url: "/apps/a%20b/metrics", headers: auth });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).code).toBe("INVALID_NAME");
  });
});
