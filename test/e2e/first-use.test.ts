// The rough edges a new user hit in a first trial, driven through the CLI, the SDK and HTTP
// against a real `praas up`: each is a behaviour of the public surface.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, rejection as failure } from "../helpers/process-harness.js";
import { cli, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let praas: RunningPraaS;
let client: PraaS;
let url: { PRAAS_URL: string };

beforeAll(async () => {
  temp = await makeTempDir("e2e-first-use");
  praas = await startPraaS({ dataDir: temp.dir });
  url = { PRAAS_URL: praas.url };
  client = new PraaS(praas.url);
  await client.deploy("todo", path.resolve("examples/todo-ts"));
  await client.deploy("counter", path.resolve("examples/counter"));
  await client.createProcess("todo", "t1", { vcpus: 1, memory: 128 });
  await client.createProcess("counter", "c1", { vcpus: 1, memory: 128 });
});

afterAll(async () => {
  await client?.close();
  await praas?.stop();
  await temp?.remove();
});

describe("SDK", () => {
  it("praas.invoke takes an object payload and sends it as JSON", async () => {
    const output = await client.invoke("todo", "add", { title: "write docs" }, { process: "t1" });
    expect(JSON.parse(Buffer.from(output).toString())).toMatchObject({ title: "write docs" });
  });

  it("an unusable payload is a BAD_REQUEST, not an unreachable control plane", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const error = await failure(client.invoke("todo", "add", cyclic, { process: "t1" }));
    expect(error.code).toBe("BAD_REQUEST");
  });

  it("FUNCTION_NOT_FOUND names the functions there are, through either path", async () => {
    const viaControlPlane = await failure(client.invoke("counter", "ad", "1"));
    expect(viaControlPlane.code).toBe("FUNCTION_NOT_FOUND");
    expect(viaControlPlane.message).toMatch(/has: add, get, reset/);
    const sticky = await failure(client.invoke("counter", "ad", "1", { process: "c1" }));
    expect(sticky.message).toMatch(/has: add, get, reset/);
    const connection = await (await client.getProcess("counter", "c1")).connect();
    try {
      const direct = await failure(connection.invoke("ad", "1"));
      expect(direct.code).toBe("FUNCTION_NOT_FOUND");
      expect(direct.message).toMatch(/has: add, get, reset/);
    } finally {
      await connection.close();
    }
  });
});

describe("HTTP", () => {
  it("an output that is a JSON object or array is served as application/json", async () => {
    const listed = await fetch(`${praas.url}/apps/todo/invoke/list?process=t1`, { method: "POST" });
    expect(listed.headers.get("content-type")).toMatch(/^application\/json/);
    expect(Array.isArray(await listed.json())).toBe(true);
    const counted = await fetch(`${praas.url}/apps/counter/invoke/get?process=c1`, {
      method: "POST",
    });
    expect(counted.headers.get("content-type")).toBe("application/octet-stream");
  });

  it("an unknown route is NOT_FOUND", async () => {
    const response = await fetch(`${praas.url}/no/such/route`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
  });
});

describe("CLI", () => {
  it("a text result ends with a newline; --raw writes the bytes exactly", async () => {
    const args = ["invoke", "counter", "add", "--process", "c1", "--data", "2"];
    const plain = await cli(args, url);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^\d+\n$/);
    const raw = await cli([...args, "--raw"], url);
    expect(raw.stdout).toMatch(/^\d+$/);
    expect(Number(raw.stdout)).toBe(Number(plain.stdout) + 2);
  });

  it("with --json, a failure is one JSON error record on stderr", async () => {
    const result = await cli(["process", "get", "counter", "ghost", "--json"], url);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({
      error: { code: "PROCESS_NOT_FOUND", message: expect.stringContaining("ghost") as string },
    });
  });

  it("apps rm of an application with processes suggests --force", async () => {
    const result = await cli(["apps", "rm", "counter"], url);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error \[INVALID_STATE\]: .*praas apps rm counter --force/);
    expect((await client.getApplication("counter")).name).toBe("counter");
  });
});
