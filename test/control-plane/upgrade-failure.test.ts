// An upgrade whose new code cannot start in the process (here: its top level needs more memory
// than the process has, which the deploy's load check, with its own limit, lets through) leaves
// the process serving on the version it ran, with its state, and fails with the start's error.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, rejection, text } from "../helpers/process-harness.js";

let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
let plane: ControlPlane | undefined;
let client: PraaS | undefined;

beforeAll(async () => {
  temp = await makeTempDir("upgrade-failure");
  plane = await ControlPlane.start({ port: 0, dataDir: temp.dir, logLevel: "silent" });
  client = new PraaS(plane.url);
});

afterAll(async () => {
  await client?.close();
  await plane?.stop();
  await temp?.remove();
});

/** An app directory: a counter whose `which` answers `answer`, after running `topLevel`. */
async function appDir(answer: string, topLevel = ""): Promise<string> {
  const dir = path.join(temp!.dir, `src-${answer}`);
  await mkdir(dir, { recursive: true });
  const code =
    `${topLevel}\nexport function which() { return ${JSON.stringify(answer)}; }\n` +
    'export async function add(input, ctx) { return String(await ctx.state.increment("n", 1)); }\n';
  await writeFile(path.join(dir, "index.js"), code);
  return dir;
}

describe("upgrade to code that cannot start", { timeout: 120_000 }, () => {
  it("keeps the process serving on its version, with its state, and reports why", async () => {
    const praas = client!;
    await praas.deploy("heavy", await appDir("v1"));
    await praas.createProcess("heavy", "a", { vcpus: 1, memory: 128 });
    await praas.invoke("heavy", "add", "", { process: "a" });
    // About 250 MiB of heap at load: within the load check's 512 MiB, past a 128 MiB process.
    const big = 'globalThis.table = Array.from({ length: 3e6 }, (_, i) => ({ i, s: "x" + i }));';
    expect((await praas.deploy("heavy", await appDir("v2", big))).version).toBe(2);

    const error = await rejection(praas.upgrade("heavy", "a"));
    expect(error.message).toContain("memory");
    const after = await praas.getProcess("heavy", "a");
    expect(after.info.status).toBe("active");
    expect(after.info.version).toBe(1);
    expect(text(await praas.invoke("heavy", "which", "", { process: "a" }))).toBe("v1");
    expect(text(await praas.invoke("heavy", "add", "", { process: "a" }))).toBe("2");
    await praas.deleteApplication("heavy", { force: true });
  });
});
