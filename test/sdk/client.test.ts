import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

import { afterEach, describe, expect, it } from "vitest";

import { PraaS, PraaSError } from "../../src/sdk/index.js";
import type { AppInfo, ProcessInfo } from "../../src/protocol/api.js";
import { closedPort, startLocalServer, type Handler, type LocalServer } from "./local-server.js";

const NOW = "2025-01-01T00:00:00.000Z";

const app: AppInfo = {
  name: "counter",
  version: 1,
  functions: ["add"],
  defaults: {},
  versions: [{ version: 1, functions: ["add"], deployedAt: NOW }],
  createdAt: NOW,
  updatedAt: NOW,
};

function processInfo(overrides: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    app: "counter",
    name: "p1",
    status: "active",
    resources: { vcpus: 2, memory: 256 },
    limits: {},
    durability: "memory",
    connection: { host: "127.0.0.1", port: 1, token: "t" },
    createdAt: NOW,
    updatedAt: NOW,
    ...overrides,
  };
}

let server: LocalServer | undefined;
let client: PraaS | undefined;

async function setup(handler: Handler, options: ConstructorParameters<typeof PraaS>[1] = {}) {
  server = await startLocalServer(handler);
  client = new PraaS(server.url, options);
  return { server, client };
}

afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

async function rejection(promise: Promise<unknown>): Promise<PraaSError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PraaSError);
  return error as PraaSError;
}

describe("PraaS client: error mapping", () => {
  it("rebuilds the PraaSError of a JSON error body", async () => {
    const body = { error: { code: "APP_NOT_FOUND", message: "no application nope" } };
    const { client } = await setup(() => ({ status: 404, body }));
    const error = await rejection(client.getApplication("nope"));
    expect(error.code).toBe("APP_NOT_FOUND");
    expect(error.message).toBe("no application nope");
  });

  it("keeps a function error's name", async () => {
    const body = { error: { code: "FUNCTION_ERROR", message: "boom", errorName: "TypeError" } };
    const { client } = await setup(() => ({ status: 500, body }));
    const error = await rejection(client.invoke("counter", "add", "1"));
    expect(error.code).toBe("FUNCTION_ERROR");
    expect(error.errorName).toBe("TypeError");
  });

  it("turns an unknown code into INTERNAL that still names it", async () => {
    const body = { error: { code: "WEIRD", message: "odd" } };
    const { client } = await setup(() => ({ status: 500, body }));
    const error = await rejection(client.listApplications());
    expect(error.code).toBe("INTERNAL");
    expect(error.message).toContain("WEIRD");
  });

  it("maps a non-JSON failure by its status and quotes the body", async () => {
    const { client, server } = await setup(() => ({ status: 503, body: "<h1>down</h1>" }));
    const error = await rejection(client.listApplications());
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toBe(`${server.url} answered HTTP 503: <h1>down</h1>`);
  });

  it("reports an unreachable control plane as UNAVAILABLE with its URL", async () => {
    const port = await closedPort();
    client = new PraaS(`http://127.0.0.1:${port}`);
    const error = await rejection(client.listApplications());
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toMatch(
      new RegExp(`^cannot reach control plane at http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
    );
  });

  it("gives up with TIMEOUT when the answer does not come in time", async () => {
    const { client } = await setup(() => "hang", { timeoutMs: 200 });
    const error = await rejection(client.listApplications());
    expect(error.code).toBe("TIMEOUT");
    expect(error.message).toContain("200 ms");
  });

  it("rejects bad names and URLs before sending anything", async () => {
    const { client, server } = await setup(() => ({ body: app }));
    expect((await rejection(client.getApplication(".."))).code).toBe("INVALID_NAME");
    expect((await rejection(client.getProcess("counter", "a/b"))).code).toBe("INVALID_NAME");
    expect(server.requests).toHaveLength(0);
    expect(() => new PraaS("ftp://example.com")).toThrow(PraaSError);
    expect(() => new PraaS("not a url")).toThrow(/invalid control-plane URL/);
  });
});

describe("PraaS client: requests", () => {
  it("deploys a directory as a gzip tarball", async () => {
    const dir = await mkdtemp(join(tmpdir(), "praas-sdk-"));
    await writeFile(join(dir, "index.js"), "export function add() { return 1; }\n");
    try {
      const { client, server } = await setup(() => ({ body: app }));
      expect(await client.deploy("counter", dir)).toEqual(app);
      const [request] = server.requests;
      expect(request?.method).toBe("PUT");
      expect(request?.url).toBe("/apps/counter");
      expect(request?.headers["content-type"]).toBe("application/gzip");
      expect(gunzipSync(request?.body ?? Buffer.alloc(0)).toString("latin1")).toContain("index.js");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("creates a process with a JSON body and returns a handle", async () => {
    const { client, server } = await setup(() => ({ status: 201, body: processInfo() }));
    const proc = await client.createProcess("counter", "p1", { vcpus: 2, memory: 256 });
    expect([proc.app, proc.name, proc.status]).toEqual(["counter", "p1", "active"]);
    expect(proc.info.connection?.port).toBe(1);
    const [request] = server.requests;
    expect(request?.url).toBe("/apps/counter/processes/p1");
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(request?.body.toString() ?? "")).toEqual({ vcpus: 2, memory: 256 });
  });

  it("refuses to connect to a process without a connection", async () => {
    const swapped = processInfo({ status: "swapped", connection: undefined, stateSize: 10 });
    const { client } = await setup(() => ({ body: swapped }));
    const proc = await client.getProcess("counter", "p1");
    const error = await rejection(proc.connect());
    expect(error.code).toBe("INVALID_STATE");
    expect(error.message).toContain("swapped");
  });

  it("sends swap, resume and deletes to their routes", async () => {
    const { client, server } = await setup((request) =>
      request.method === "DELETE" ? { body: { deleted: "x" } } : { body: processInfo() },
    );
    await client.swap("counter", "p1");
    await client.resume("counter", "p1");
    await client.deleteProcess("counter", "p1");
    await client.deleteApplication("counter", { force: true });
    await client.deleteApplication("counter");
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "POST /apps/counter/processes/p1/swap",
      "POST /apps/counter/processes/p1/resume",
      "DELETE /apps/counter/processes/p1",
      "DELETE /apps/counter?force=true",
      "DELETE /apps/counter",
    ]);
  });

  it("invokes with raw bytes both ways and reports the process", async () => {
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i);
    const { client, server } = await setup((request) => ({
      body: Buffer.from(request.body).reverse(),
      headers: { "x-praas-process": "p7" },
    }));
    const result = await client.invokeDetailed("counter", "echo", payload, { process: "p7" });
    expect(Buffer.from(result.output)).toEqual(Buffer.from(payload).reverse());
    expect(result.process).toBe("p7");
    const [request] = server.requests;
    expect(request?.url).toBe("/apps/counter/invoke/echo?process=p7");
    expect(request?.headers["content-type"]).toBe("application/octet-stream");
    expect(request?.body).toEqual(Buffer.from(payload));
  });

  it("sends the API token on every request", async () => {
    const { client, server } = await setup(() => ({ body: { apps: [app] } }), { token: "s3cret" });
    expect(await client.listApplications()).toEqual([app]);
    expect(server.requests[0]?.headers.authorization).toBe("Bearer s3cret");
  });

  it("lists processes as the route returns them", async () => {
    const list = { active: [processInfo()], swapped: [], failed: [] };
    const { client, server } = await setup(() => ({ body: list }));
    expect(await client.listProcesses("counter")).toEqual(list);
    expect(server.requests[0]?.url).toBe("/apps/counter/processes");
  });
});
