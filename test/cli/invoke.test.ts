import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startLocalServer, type LocalServer, type RecordedRequest } from "../sdk/local-server.js";
import { runCli } from "./run-cli.js";

// Every byte value, so any text decoding on the way would show.
const BINARY = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

let server: LocalServer;
let dir: string;

// Answers an invocation with the payload reversed, naming the process as the control plane does.
beforeAll(async () => {
  server = await startLocalServer((request) => ({
    body: Buffer.from(request.body).reverse(),
    headers: { "x-praas-process": "p1" },
  }));
  dir = await mkdtemp(join(tmpdir(), "praas-cli-"));
});

// Runs even when beforeAll failed half-way: whatever was made is cleaned up.
afterAll(async () => {
  try {
    await (server as LocalServer | undefined)?.close();
  } finally {
    if ((dir as string | undefined) !== undefined) await rm(dir, { recursive: true, force: true });
  }
});

function requestTo(path: string): RecordedRequest | undefined {
  return server.requests.find((request) => request.url === path);
}

describe.concurrent("praas invoke", { timeout: 90_000 }, () => {
  it("sends the bytes of --data @FILE and writes the raw output", async () => {
    const file = join(dir, "payload.bin");
    await writeFile(file, BINARY);
    const args = ["invoke", "app", "fromfile", "--data", `@${file}`, "--url", server.url];
    const result = await runCli([...args, "--process", "p1"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(requestTo("/apps/app/invoke/fromfile?process=p1")?.body).toEqual(BINARY);
    expect(result.stdout).toEqual(Buffer.from(BINARY).reverse());
  });

  it("reads the payload from stdin with --data @-", async () => {
    const result = await runCli(["invoke", "app", "stdin", "--data", "@-", "--url", server.url], {
      input: BINARY,
    });
    expect(result.code).toBe(0);
    expect(requestTo("/apps/app/invoke/stdin")?.body).toEqual(BINARY);
  });

  it("sends a literal --data string, the token from the environment, and prints JSON", async () => {
    const env = { PRAAS_URL: server.url, PRAAS_API_TOKEN: "tok" };
    const result = await runCli(["invoke", "app", "literal", "--data", "olleh", "--json"], { env });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.toString())).toEqual({ process: "p1", output: "hello" });
    const request = requestTo("/apps/app/invoke/literal");
    expect(request?.body.toString()).toBe("olleh");
    expect(request?.headers.authorization).toBe("Bearer tok");
  });

  it("prints binary output as base64 in JSON", async () => {
    const file = join(dir, "binary-json.bin");
    await writeFile(file, BINARY);
    const result = await runCli([
      "invoke",
      "app",
      "binjson",
      "--data",
      `@${file}`,
      "--json",
      "--url",
      server.url,
    ]);
    const printed = JSON.parse(result.stdout.toString()) as { outputBase64: string };
    expect(Buffer.from(printed.outputBase64, "base64")).toEqual(Buffer.from(BINARY).reverse());
  });
});
