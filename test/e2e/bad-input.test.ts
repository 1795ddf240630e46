// Bad input against a real `praas up` with an API token: every mistake is a 4xx JSON error
// with a stable code, and nothing already stored changes.
import { randomBytes } from "node:crypto";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packDirectory } from "../../src/apps/index.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { cli, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

const TOKEN = "test-token-123";
const BODY_LIMIT = 1024 * 1024;
let temp: Awaited<ReturnType<typeof makeTempDir>>;
let praas: RunningPraaS;
let client: PraaS;

beforeAll(async () => {
  temp = await makeTempDir("e2e-bad");
  praas = await startPraaS({
    dataDir: temp.dir,
    apiToken: TOKEN,
    extraArgs: ["--max-body", String(BODY_LIMIT)],
  });
  client = new PraaS(praas.url, { token: TOKEN });
  await client.deploy("counter", path.resolve("examples/counter"));
  await client.createProcess("counter", "p1", { vcpus: 1, memory: 128 });
  await client.invoke("counter", "add", "5", { process: "p1" });
});

afterAll(async () => {
  await client?.close();
  await praas?.stop();
  await temp?.remove();
});

interface Call {
  method: string;
  route: string;
  body?: string | Buffer;
  type?: string;
  token?: string | null;
}

/**
 * One request with node:http, which hands over the response even when the server answers
 * before the whole body was sent (as it does for an oversized body).
 */
function call({ method, route, body, type, token = TOKEN }: Call): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (type) headers["content-type"] = type;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const request = http.request(`${praas.url}${route}`, { method, headers }, (response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.on("end", () => {
        request.destroy();
        resolve({
          status: response.statusCode ?? 0,
          json: text ? (JSON.parse(text) as unknown) : null,
        });
      });
    });
    request.on("error", (error) => (request.destroyed ? undefined : reject(error)));
    if (body !== undefined && body.length > BODY_LIMIT) {
      // Declare the size and wait: the server must refuse it without reading the body (a client
      // still writing when the server closes would see a reset instead of the answer).
      request.setHeader("content-length", body.length);
      request.flushHeaders();
    } else {
      request.end(body);
    }
  });
}

interface Reply {
  status: number;
  json: unknown;
}

/** Everything a user could observe about stored data. */
async function snapshot(): Promise<unknown> {
  const apps = await client.listApplications();
  const processes = await client.listProcesses("counter");
  const count = Buffer.from(
    await client.invoke("counter", "get", "", { process: "p1" }),
  ).toString();
  const strip = (list: { name: string; status: string }[]) =>
    list.map((p) => `${p.name}:${p.status}`);
  return {
    apps: apps.map((a) => `${a.name}@${a.version}`),
    active: strip(processes.active),
    swapped: strip(processes.swapped),
    count,
  };
}

const cases: [string, number, string, Call][] = [
  ["missing token", 401, "UNAUTHORIZED", { method: "GET", route: "/apps", token: null }],
  ["wrong token", 401, "UNAUTHORIZED", { method: "GET", route: "/apps", token: "nope" }],
  [
    "malformed JSON",
    400,
    "BAD_REQUEST",
    {
      method: "PUT",
      route: "/apps/counter/processes/p2",
      body: "{vcpus:",
      type: "application/json",
    },
  ],
  [
    "negative memory",
    400,
    "BAD_REQUEST",
    {
      method: "PUT",
      route: "/apps/counter/processes/p2",
      body: '{"memory":-1}',
      type: "application/json",
    },
  ],
  [
    "string vcpus",
    400,
    "BAD_REQUEST",
    {
      method: "PUT",
      route: "/apps/counter/processes/p2",
      body: '{"vcpus":"two"}',
      type: "application/json",
    },
  ],
  [
    "too many vcpus",
    400,
    "BAD_REQUEST",
    {
      method: "PUT",
      route: "/apps/counter/processes/p2",
      body: '{"vcpus":1000}',
      type: "application/json",
    },
  ],
  [
    "unknown field",
    400,
    "BAD_REQUEST",
    {
      method: "PUT",
      route: "/apps/counter/processes/p2",
      body: '{"cpu":1}',
      type: "application/json",
    },
  ],
  [
    "invalid name",
    400,
    "INVALID_NAME",
    {
      method: "PUT",
      route: "/apps/counter/processes/bad%20name",
      body: "{}",
      type: "application/json",
    },
  ],
  ["unknown app", 404, "APP_NOT_FOUND", { method: "GET", route: "/apps/nope" }],
  [
    "process of unknown app",
    404,
    "APP_NOT_FOUND",
    { method: "PUT", route: "/apps/nope/processes/p2", body: "{}", type: "application/json" },
  ],
  [
    "unknown process",
    404,
    "PROCESS_NOT_FOUND",
    { method: "GET", route: "/apps/counter/processes/ghost" },
  ],
  [
    "swap unknown process",
    404,
    "PROCESS_NOT_FOUND",
    { method: "POST", route: "/apps/counter/processes/ghost/swap" },
  ],
  [
    "unknown function",
    404,
    "FUNCTION_NOT_FOUND",
    { method: "POST", route: "/apps/counter/invoke/nope?process=p1", body: "1" },
  ],
  [
    "duplicate process",
    409,
    "ALREADY_EXISTS",
    { method: "PUT", route: "/apps/counter/processes/p1", body: "{}", type: "application/json" },
  ],
  [
    "resume an active process",
    409,
    "INVALID_STATE",
    { method: "POST", route: "/apps/counter/processes/p1/resume" },
  ],
  [
    "delete an app with processes",
    409,
    "INVALID_STATE",
    { method: "DELETE", route: "/apps/counter" },
  ],
  [
    "oversized invocation",
    413,
    "PAYLOAD_TOO_LARGE",
    {
      method: "POST",
      route: "/apps/counter/invoke/add?process=p1",
      body: Buffer.alloc(2 * 1024 * 1024),
    },
  ],
  [
    "oversized deploy",
    413,
    "PAYLOAD_TOO_LARGE",
    {
      method: "PUT",
      route: "/apps/counter",
      body: randomBytes(2 * 1024 * 1024),
      type: "application/gzip",
    },
  ],
  [
    "garbage tarball",
    400,
    "BAD_REQUEST",
    { method: "PUT", route: "/apps/counter", body: randomBytes(1000), type: "application/gzip" },
  ],
];

describe("bad input", () => {
  it.each(cases)("%s → %i %s, stored data unchanged", async (_name, status, code, request) => {
    const before = await snapshot();
    const { status: got, json } = await call(request);
    expect(got).toBe(status);
    expect(json).toMatchObject({ error: { code, message: expect.any(String) as string } });
    expect(await snapshot()).toEqual(before);
  });

  it("keeps the running version when a new one does not build", async () => {
    const broken = await packDirectory(path.resolve("test/fixtures/apps/syntax-error"));
    const { status, json } = await call({
      method: "PUT",
      route: "/apps/counter",
      body: broken,
      type: "application/gzip",
    });
    expect(status).toBe(422);
    expect(json).toMatchObject({ error: { code: "BUILD_FAILED" } });
    expect((await client.getApplication("counter")).version).toBe(1);
  });

  it("leaves /healthz open without a token", async () => {
    expect(await call({ method: "GET", route: "/healthz", token: null })).toMatchObject({
      status: 200,
      json: { status: "ok" },
    });
  });

  it("prints one error line and exits 1 from the CLI", async () => {
    const result = await cli([
      "process",
      "get",
      "counter",
      "ghost",
      "--url",
      praas.url,
      "--token",
      TOKEN,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^error \[PROCESS_NOT_FOUND\]: .+$/);
    const noToken = await cli(["apps", "ls", "--url", praas.url], { PRAAS_API_TOKEN: "" });
    expect(noToken.stderr.trim()).toMatch(/^error \[UNAUTHORIZED\]/);
  });
});
