// Every route of the HTTP API: status, response shape and what reaches the service.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appInfo, processInfo } from "./fake-service.js";
import { startHarness, type Harness } from "./helpers.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.app.close();
});

const json = { "content-type": "application/json" };

describe("apps", () => {
  it.each(["application/gzip", "application/x-gzip", "application/octet-stream"])(
    "PUT /apps/:app accepts %s and passes the tarball bytes",
    async (type) => {
      const tarball = Buffer.from([0x1f, 0x8b, 0, 1, 2, 255]);
      const res = await h.app.inject({
        method: "PUT",
        url: "/apps/counter",
        headers: { "content-type": type },
        payload: tarball,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(appInfo("counter"));
      expect(h.service.calls).toEqual([{ method: "deployApp", args: ["counter", tarball] }]);
    },
  );

  it("PUT /apps/:app without a body is a bad request", async () => {
    const res = await h.app.inject({ method: "PUT", url: "/apps/counter" });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: "BAD_REQUEST" } });
    expect(h.service.calls).toEqual([]);
  });

  it("GET /apps lists applications", async () => {
    const res = await h.app.inject({ method: "GET", url: "/apps" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ apps: [appInfo("a1"), appInfo("a2")] });
  });

  it("GET /apps/:app describes one", async () => {
    const res = await h.app.inject({ method: "GET", url: "/apps/counter" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(appInfo("counter"));
    expect(h.service.calls).toEqual([{ method: "getApp", args: ["counter"] }]);
  });

  it.each([
    ["", false],
    ["?force=false", false],
    ["?force=true", true],
  ])("DELETE /apps/:app%s passes force=%s", async (query, force) => {
    const res = await h.app.inject({ method: "DELETE", url: `/apps/counter${query}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ deleted: "counter" });
    expect(h.service.calls).toEqual([{ method: "deleteApp", args: ["counter", force] }]);
  });

  it("DELETE /apps/:app?force=yes is refused", async () => {
    const res = await h.app.inject({ method: "DELETE", url: "/apps/counter?force=yes" });
    expect(res.statusCode).toBe(400);
    expect(h.service.calls).toEqual([]);
  });
});

describe("processes", () => {
  it.each([
    ["a JSON body", json, '{"vcpus":0.5,"memory":256}', { vcpus: 0.5, memory: 256 }],
    ["an empty JSON object", json, "{}", {}],
    ["an empty body with a JSON content type", json, "", {}],
    ["no body at all", {}, undefined, {}],
  ])("PUT creates a process from %s", async (_what, headers, payload, body) => {
    const url = "/apps/counter/processes/p1";
    const res = await h.app.inject({ method: "PUT", url, headers, payload });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual(processInfo("counter", "p1"));
    expect(h.service.calls).toEqual([{ method: "createProcess", args: ["counter", "p1", body] }]);
  });

  it("GET /apps/:app/processes lists them by status", async () => {
    const res = await h.app.inject({ method: "GET", url: "/apps/counter/processes" });
    expect(res.statusCode).toBe(200);
    const list = res.json<{ active: unknown[]; swapped: { stateSize: number }[] }>();
    expect(list.active).toEqual([processInfo("counter", "p1")]);
    expect(list.swapped[0]?.stateSize).toBe(42);
    expect(list).toHaveProperty("failed", []);
  });

  it("GET /apps/:app/processes/:proc describes one", async () => {
    const res = await h.app.inject({ method: "GET", url: "/apps/counter/processes/p1" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(processInfo("counter", "p1"));
    expect(h.service.calls).toEqual([{ method: "getProcess", args: ["counter", "p1"] }]);
  });

  it("POST swap responds with the stored size", async () => {
    const res = await h.app.inject({ method: "POST", url: "/apps/counter/processes/p1/swap" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ name: "p1", status: "swapped", stateSize: 1234 });
    expect(res.json()).not.toHaveProperty("connection");
    expect(h.service.calls).toEqual([{ method: "swapProcess", args: ["counter", "p1"] }]);
  });

  it("POST resume responds with the new connection", async () => {
    const res = await h.app.inject({ method: "POST", url: "/apps/counter/processes/p1/resume" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: "active", connection: { port: 4100 } });
    expect(h.service.calls).toEqual([{ method: "resumeProcess", args: ["counter", "p1"] }]);
  });

  it("DELETE /apps/:app/processes/:proc", async () => {
    const res = await h.app.inject({ method: "DELETE", url: "/apps/counter/processes/p1" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ deleted: "p1" });
    expect(h.service.calls).toEqual([{ method: "deleteProcess", args: ["counter", "p1"] }]);
  });

  it("fields the records gain later pass through the response schemas", async () => {
    const extended = { ...processInfo("counter", "p1"), replica: "r2" };
    h.service.getProcess = () => Promise.resolve(extended);
    const res = await h.app.inject({ method: "GET", url: "/apps/counter/processes/p1" });
    expect(res.json()).toEqual(extended);
  });
});

describe("system", () => {
  it("GET /healthz returns the service's health", async () => {
    const res = await h.app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(h.service.healthInfo);
  });

  it("GET /healthz answers a degraded health with 200 (a shared Redis must not take out every replica)", async () => {
    const degraded = {
      ...h.service.healthInfo,
      status: "degraded" as const,
      store: "redis" as const,
      storeStatus: "unreachable" as const,
      reason: "the metadata store (Redis) is unreachable: no reply to PING within 500 ms",
    };
    h.service.healthInfo = degraded;
    const res = await h.app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(degraded);
  });

  it("unknown routes are a 404 JSON error", async () => {
    const res = await h.app.inject({ method: "GET", url: "/nope/x?y=1" });
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ error: { code: "NOT_FOUND", message: "no route GET /nope/x" } });
  });

  it("a known path with another method is a 404 too", async () => {
    const res = await h.app.inject({ method: "PATCH", url: "/apps/counter" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({
      error: { code: "NOT_FOUND", message: "no route PATCH /apps/counter" },
    });
  });
});
