// Bearer-token authentication: every route but /healthz, checked before the body is read.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TEST_BODY_LIMIT, startHarness, type Harness } from "./helpers.js";

const TOKEN = "s3cret-token";
let h: Harness;
beforeEach(async () => {
  h = await startHarness({ apiToken: TOKEN });
});
afterEach(async () => {
  await h.app.close();
});

const unauthorized = { error: { code: "UNAUTHORIZED", message: "missing or wrong bearer token" } };

describe("with an apiToken", () => {
  it.each([
    ["no header", undefined],
    ["a wrong token", `Bearer ${TOKEN}x`],
    ["a token prefix", `Bearer ${TOKEN.slice(0, -1)}`],
    ["another scheme", `Basic ${TOKEN}`],
    ["the bare token", TOKEN],
    ["an empty bearer", "Bearer "],
  ])("%s is a 401 JSON error and the service is not called", async (_what, authorization) => {
    const headers = authorization === undefined ? {} : { authorization };
    const res = await h.app.inject({ method: "GET", url: "/apps", headers });
    expect(res.statusCode).toBe(401);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
    expect(res.json()).toEqual(unauthorized);
    expect(h.service.calls).toEqual([]);
  });

  it("the right token passes (scheme case-insensitive)", async () => {
    for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`]) {
      const res = await h.app.inject({ method: "GET", url: "/apps", headers: { authorization } });
      expect(res.statusCode).toBe(200);
    }
  });

  it("/healthz needs no token", async () => {
    const res = await h.app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: "ok" });
  });

  it.each([
    ["GET", "/metrics"],
    ["GET", "/openapi.json"],
    ["POST", "/apps/a/invoke/f"],
    ["PUT", "/apps/a/processes/p"],
    ["GET", "/no/such/route"],
  ])("%s %s needs the token", async (method, url) => {
    const res = await h.app.inject({ method: method as "GET", url });
    expect(res.statusCode).toBe(401);
    expect(h.service.calls).toEqual([]);
  });

  it("runs before the body is read: an oversized unauthenticated upload is a 401, not a 413", async () => {
    const res = await h.app.inject({
      method: "PUT",
      url: "/apps/counter",
      headers: { "content-type": "application/gzip" },
      payload: Buffer.alloc(TEST_BODY_LIMIT + 1),
    });
    expect(res.statusCode).toBe(401);
  });

  it("runs before name checks: an unauthenticated client learns nothing", async () => {
    const res = await h.app.inject({ method: "GET", url: "/apps/SELF" });
    expect(res.statusCode).toBe(401);
  });
});

describe("without an apiToken", () => {
  it("every route is open", async () => {
    const open = await startHarness();
    const res = await open.app.inject({ method: "GET", url: "/apps" });
    expect(res.statusCode).toBe(200);
    await open.app.close();
  });
});
