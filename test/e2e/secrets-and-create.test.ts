// Against a real `praas up`: application secrets (set from stdin with the CLI, seen by the
// functions as environment variables, never returned by the API, carried across redeploys,
// reaching running processes on upgrade) and get-or-create invocations (`?create=true`).
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, rejection } from "../helpers/process-harness.js";
import { cli, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let praas: RunningPraaS;
let client: PraaS;
let appDir: string;

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();
const VALUE = "s3cr3t-value-that-must-never-be-echoed";

/** Reads an environment variable; counts its own invocations in state. */
const SOURCE = `
export function env(name) { return process.env[new TextDecoder().decode(name)] ?? "(unset)"; }
export async function hits(_input, ctx) { return ctx.state.increment("hits", 1); }
`;

async function praasCli(args: string[], input?: string): Promise<string> {
  const result = await cli([...args, "--url", praas.url], {}, Buffer.from(input ?? ""));
  if (result.code !== 0) throw new Error(`praas ${args.join(" ")}: ${result.stderr}`);
  expect(result.stdout + result.stderr).not.toContain(VALUE);
  return result.stdout;
}

beforeAll(async () => {
  temp = await makeTempDir("e2e-secrets");
  praas = await startPraaS({ dataDir: path.join(temp.dir, "data") });
  client = new PraaS(praas.url);
  appDir = path.join(temp.dir, "app");
  await mkdir(appDir);
  await writeFile(path.join(appDir, "index.js"), SOURCE);
  await writeFile(path.join(appDir, "praas.json"), JSON.stringify({ env: { MODE: "plain" } }));
  await client.deploy("vault", appDir);
});

afterAll(async () => {
  await client?.close();
  await praas?.stop();
  await temp?.remove();
});

describe("secrets", { timeout: 180_000 }, () => {
  it("are read from stdin, seen by functions, and never returned", async () => {
    await praasCli(["secrets", "set", "vault", "API_KEY"], `${VALUE}\n`);
    await client.createProcess("vault", "p1");
    const env = (name: string): Promise<string> =>
      client.invoke("vault", "env", name, { process: "p1" }).then(text);
    expect(await env("API_KEY")).toBe(VALUE); // the trailing newline of the pipe is dropped
    expect(await env("MODE")).toBe("plain");

    expect(await praasCli(["secrets", "ls", "vault"])).toBe("API_KEY\n");
    const info = await praasCli(["apps", "get", "vault", "--json"]);
    expect(JSON.parse(info)).toMatchObject({ secrets: ["API_KEY"] });
    const listed = await fetch(`${praas.url}/apps`).then((response) => response.text());
    expect(listed).not.toContain(VALUE);
  });

  it("survive a redeploy and reach running processes on upgrade; rm removes one", async () => {
    await client.deploy("vault", appDir);
    await client.setSecret("vault", "OTHER", "second");
    expect(await client.listSecrets("vault")).toEqual(["API_KEY", "OTHER"]);
    await client.upgrade("vault", "p1");
    const env = (name: string): Promise<string> =>
      client.invoke("vault", "env", name, { process: "p1" }).then(text);
    expect(await env("OTHER")).toBe("second");
    expect(await env("API_KEY")).toBe(VALUE);

    await praasCli(["secrets", "rm", "vault", "OTHER"]);
    await client.upgrade("vault", "p1");
    expect(await env("OTHER")).toBe("(unset)");
    const missing = await rejection(client.deleteSecret("vault", "OTHER"));
    expect(missing.code).toBe("NOT_FOUND");
  });

  it("refuses bad names and values with clear errors", async () => {
    const reserved = await rejection(client.setSecret("vault", "PRAAS_CONTROL_SECRET", "x"));
    expect(reserved).toMatchObject({ code: "BAD_REQUEST" });
    expect(reserved.message).toContain("reserved");
    const badName = await rejection(client.setSecret("vault", "lower-case", "x"));
    expect(badName.code).toBe("BAD_REQUEST");
    const noApp = await rejection(client.setSecret("nope", "KEY", "x"));
    expect(noApp.code).toBe("APP_NOT_FOUND");
    const huge = await rejection(client.setSecret("vault", "HUGE", "x".repeat(40_000)));
    expect(huge.code).toBe("BAD_REQUEST");
  });
});

describe("get-or-create invocations", { timeout: 180_000 }, () => {
  it("create a missing process only when asked, once under concurrent calls", async () => {
    const unasked = await rejection(client.invoke("vault", "hits", "", { process: "room-1" }));
    expect(unasked.code).toBe("PROCESS_NOT_FOUND");

    const calls = Array.from({ length: 8 }, () =>
      client.invoke("vault", "hits", "", { process: "room-1", create: true }).then(text),
    );
    const counts = (await Promise.all(calls)).map(Number).sort((a, b) => a - b);
    expect(counts).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // one process, every call counted
    const listed = await client.listProcesses("vault");
    const names = [...listed.active, ...listed.swapped, ...listed.failed].map((p) => p.name);
    expect(names.filter((name) => name === "room-1")).toHaveLength(1);

    const viaCli = await praasCli(["invoke", "vault", "hits", "--process", "room-2", "--create"]);
    expect(viaCli).toBe("1\n");
  });

  it("an existing process is used as it is, swapped or not", async () => {
    await client.swap("vault", "room-1");
    const again = await client.invoke("vault", "hits", "", { process: "room-1", create: true });
    expect(text(again)).toBe("9");
    const noApp = await rejection(
      client.invoke("nope", "hits", "", { process: "x", create: true }),
    );
    expect(noApp.code).toBe("APP_NOT_FOUND");
  });
});
