// Versions against a real `praas up`: a process records the version it runs, a redeploy reaches
// a running process with its state intact (process upgrade, deploy --upgrade), and a rollback
// brings an earlier version's code back as a new version.
import { cp, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, rejection as failure } from "../helpers/process-harness.js";
import { cli, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let praas: RunningPraaS;
let client: PraaS;
let v2: string;

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();

/** The counter example plus a `double` function: what a redeploy adds. */
async function counterWithDouble(dir: string): Promise<string> {
  await cp(path.resolve("examples/counter"), dir, { recursive: true });
  const source = await readFile(path.join(dir, "index.js"), "utf8");
  const double = `\nexport async function double(_input, ctx) {\n  return ctx.state.increment("count", Number(await get(_input, ctx)));\n}\n`;
  await writeFile(path.join(dir, "index.js"), source + double);
  return dir;
}

async function praasCli(args: string[]): Promise<string> {
  const result = await cli([...args, "--url", praas.url]);
  if (result.code !== 0) throw new Error(`praas ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  temp = await makeTempDir("e2e-versions");
  praas = await startPraaS({ dataDir: path.join(temp.dir, "data") });
  client = new PraaS(praas.url);
  v2 = await counterWithDouble(path.join(temp.dir, "counter-v2"));
  await client.deploy("counter", path.resolve("examples/counter"));
  await client.createProcess("counter", "c1", { vcpus: 1, memory: 128 });
  await client.invoke("counter", "add", "5", { process: "c1" });
});

afterAll(async () => {
  await client?.close();
  await praas?.stop();
  await temp?.remove();
});

describe("versions", { timeout: 180_000 }, () => {
  it("a redeploy reaches a running process on upgrade, with its state", async () => {
    expect((await client.deploy("counter", v2)).version).toBe(2);
    const before = await client.getProcess("counter", "c1");
    expect(before.info.version).toBe(1);
    const old = await failure(client.invoke("counter", "double", "", { process: "c1" }));
    expect(old.code).toBe("FUNCTION_NOT_FOUND");

    const shown = await praasCli(["process", "upgrade", "counter", "c1"]);
    expect(shown).toMatch(/version:\s+2/);
    expect(text(await client.invoke("counter", "double", "", { process: "c1" }))).toBe("10");
    expect((await client.getProcess("counter", "c1")).info.version).toBe(2);
  });

  it("deploy --upgrade moves the active processes along", async () => {
    await client.createProcess("counter", "c2", { vcpus: 1, memory: 128 });
    const out = await praasCli(["deploy", v2, "--app", "counter", "--upgrade"]);
    expect(out).toMatch(/upgraded c1, c2|upgraded c2, c1/);
    const { active } = await client.listProcesses("counter");
    expect(active.map((p) => p.version)).toEqual([3, 3]);
    expect(text(await client.invoke("counter", "get", "", { process: "c1" }))).toBe("10");
  });

  it("rollback runs an earlier version's code as a new version", async () => {
    const out = await praasCli(["apps", "rollback", "counter", "--to", "1"]);
    expect(out).toMatch(/version 4 runs version 1's code/);
    const app = await client.getApplication("counter");
    expect(app.version).toBe(4);
    expect(app.versions.at(-1)).toMatchObject({ version: 4, rollbackOf: 1 });
    expect(app.functions).not.toContain("double");
    await client.upgrade("counter", "c1");
    expect(text(await client.invoke("counter", "get", "", { process: "c1" }))).toBe("10");
    const gone = await failure(client.invoke("counter", "double", "", { process: "c1" }));
    expect(gone.code).toBe("FUNCTION_NOT_FOUND");
  });

  it("a version that is not kept, or the current one, is refused and changes nothing", async () => {
    expect((await failure(client.rollback("counter", { to: 99 }))).code).toBe("BAD_REQUEST");
    expect((await failure(client.rollback("counter", { to: 4 }))).message).toMatch(/current/);
    expect((await client.getApplication("counter")).version).toBe(4);
  });
});
