// HTTP-shaped functions against a real `praas up`: an application exporting
// `fetch(request, ctx)` answers any method under /apps/:app/processes/:proc/http/*, with the
// request's method, path, query, headers and body, and its response's status, headers and
// body; state persists across requests and a swap; errors come back with their codes.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

const SOURCE = `
export async function fetch(request, ctx) {
  const url = new URL(request.url);
  if (url.pathname === "/echo") {
    return new Response(await request.arrayBuffer(), {
      status: 201,
      headers: { "x-method": request.method, "x-query": url.search, "x-seen": request.headers.get("x-custom") ?? "" },
    });
  }
  if (url.pathname === "/items" && request.method === "POST") {
    const item = await request.json();
    const count = await ctx.state.increment("items", 1);
    await ctx.state.put("item:" + count, item);
    return Response.json({ id: count, item }, { status: 201 });
  }
  if (url.pathname.startsWith("/items/")) {
    const item = await ctx.state.get("item:" + url.pathname.slice(7));
    if (item === undefined) return new Response("no such item", { status: 404 });
    return new Response(item, { headers: { "content-type": "application/json" } });
  }
  if (url.pathname === "/plain") return { hello: "world" };
  if (url.pathname === "/auth") return request.headers.get("authorization") ?? "none";
  if (url.pathname === "/throw") throw new TypeError("handler broke");
  return new Response("not here: " + url.pathname, { status: 404 });
}
export function other() { return "not http"; }
`;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let praas: RunningPraaS;
let client: PraaS;
let base: string;

beforeAll(async () => {
  temp = await makeTempDir("e2e-http");
  praas = await startPraaS({ dataDir: path.join(temp.dir, "data"), apiToken: "api-token-1" });
  client = new PraaS(praas.url, { token: "api-token-1" });
  const dir = path.join(temp.dir, "web");
  await mkdir(dir);
  await writeFile(path.join(dir, "index.js"), SOURCE);
  await client.deploy("web", dir);
  await mkdir(path.join(temp.dir, "plain"));
  await writeFile(path.join(temp.dir, "plain", "index.js"), "export const f = () => 1;\n");
  await client.deploy("plain", path.join(temp.dir, "plain"));
  await client.createProcess("web", "w1", { vcpus: 1 });
  base = `${praas.url}/apps/web/processes/w1/http`;
});

afterAll(async () => {
  await client?.close();
  await praas?.stop();
  await temp?.remove();
});

const auth = { authorization: "Bearer api-token-1" };

describe("fetch handlers", { timeout: 180_000 }, () => {
  it("get the method, path, query, headers and body, and set status, headers and body", async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const response = await fetch(`${base}/echo?a=1&b=two`, {
      method: "PUT",
      headers: { ...auth, "x-custom": "yes" },
      body: bytes,
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("x-method")).toBe("PUT");
    expect(response.headers.get("x-query")).toBe("?a=1&b=two");
    expect(response.headers.get("x-seen")).toBe("yes");
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("keep state across requests and a swap", async () => {
    const post = await fetch(`${base}/items`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "first" }),
    });
    expect(post.status).toBe(201);
    expect(await post.json()).toEqual({ id: 1, item: { name: "first" } });
    await client.swap("web", "w1");
    const get = await fetch(`${base}/items/1`, { headers: auth }); // resumes the process
    expect(get.headers.get("content-type")).toContain("application/json");
    expect(await get.json()).toEqual({ name: "first" });
    expect((await fetch(`${base}/items/9`, { headers: auth })).status).toBe(404);
  });

  it("turn a plain return value into a 200, and never see the API token", async () => {
    const plain = await fetch(`${base}/plain`, { headers: auth });
    expect(plain.status).toBe(200);
    expect(await plain.json()).toEqual({ hello: "world" });
    expect(await (await fetch(`${base}/auth`, { headers: auth })).text()).toBe("none");
    expect(await (await fetch(base, { headers: auth })).text()).toBe("not here: /");
  });

  it("answer with clear error codes", async () => {
    const unauthorized = await fetch(`${base}/plain`);
    expect(unauthorized.status).toBe(401);
    const thrown = await fetch(`${base}/throw`, { headers: auth });
    expect(thrown.status).toBe(500);
    expect(await thrown.json()).toMatchObject({ error: { code: "FUNCTION_ERROR" } });
    await client.createProcess("plain", "p1", { vcpus: 1 });
    const none = await fetch(`${praas.url}/apps/plain/processes/p1/http/x`, { headers: auth });
    expect(none.status).toBe(404);
    expect(await none.json()).toMatchObject({ error: { code: "FUNCTION_NOT_FOUND" } });
    const missing = await fetch(`${praas.url}/apps/web/processes/nope/http/`, { headers: auth });
    expect(await missing.json()).toMatchObject({ error: { code: "PROCESS_NOT_FOUND" } });
  });
});
