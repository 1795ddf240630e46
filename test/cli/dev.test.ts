// `praas dev DIR` as a user runs it: the application is deployed at start, every file change
// redeploys it and moves running processes to the new version with their state, a broken edit
// keeps the previous version serving, function logs appear in the same terminal, and Ctrl-C
// stops it cleanly.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { CLI, testEnv } from "../helpers/praas-up.js";

const V1 = `
export async function add(input, ctx) {
  console.log("adding", new TextDecoder().decode(input));
  return ctx.state.increment("n", Number(new TextDecoder().decode(input)));
}
`;
const V2 = `${V1}
export async function twice(_input, ctx) { return 2 * ((await ctx.state.get("n")) ?? 0); }
`;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let dev: ChildProcess;
let client: PraaS;
let appDir: string;
const lines: string[] = [];
const waiters: { match: RegExp; resolve: (line: string) => void }[] = [];

/** The first output line (already seen or still to come) after `from` that matches. */
function line(match: RegExp, from = 0, timeoutMs = 60_000): Promise<string> {
  const seen = lines.slice(from).find((text) => match.test(text));
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${match}`)), timeoutMs);
    waiters.push({ match, resolve: (text) => (clearTimeout(timer), resolve(text)) });
  });
}

function collect(child: ChildProcess): void {
  createInterface({ input: child.stdout! }).on("line", (text) => {
    lines.push(text);
    for (const waiter of waiters.filter((w) => w.match.test(text))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(text);
    }
  });
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();

beforeAll(async () => {
  temp = await makeTempDir("cli-dev");
  appDir = path.join(temp.dir, "counter");
  await mkdir(appDir);
  await writeFile(path.join(appDir, "index.js"), V1);
  const args = [CLI, "dev", appDir, "--port", "0", "--data-dir", path.join(temp.dir, "data")];
  dev = spawn(process.execPath, args, { env: testEnv(), stdio: ["ignore", "pipe", "inherit"] });
  collect(dev);
  const listening = await line(/listening on (http:\S+);/);
  client = new PraaS(/listening on (http:\S+);/.exec(listening)![1]!);
  await line(/deployed counter version 1 \(add\)/);
});

afterAll(async () => {
  await client?.close();
  if (dev?.exitCode === null) dev.kill("SIGKILL");
  await temp?.remove();
});

describe("praas dev", { timeout: 180_000 }, () => {
  it("redeploys on change and upgrades running processes, state kept; logs appear", async () => {
    await client.createProcess("counter", "c1", { vcpus: 1 });
    expect(text(await client.invoke("counter", "add", "5", { process: "c1" }))).toBe("5");
    await line(/c1 {2}add {2}adding 5/);

    const from = lines.length;
    await writeFile(path.join(appDir, "index.js"), V2);
    await line(/deployed counter version 2 \(add, twice\)/, from);
    await line(/upgraded counter\/c1 to version 2/, from);
    expect(text(await client.invoke("counter", "twice", "", { process: "c1" }))).toBe("10");
  });

  it("keeps the previous version serving when an edit does not build", async () => {
    const from = lines.length;
    await writeFile(path.join(appDir, "index.js"), "export function broken( {");
    await line(/deploy failed; still running the previous version/, from);
    expect(text(await client.invoke("counter", "twice", "", { process: "c1" }))).toBe("10");
    expect((await client.getApplication("counter")).version).toBe(2);
  });

  it("stops on Ctrl-C (SIGINT) with exit code 0", async () => {
    const exited = new Promise<number | null>((resolve) => dev.once("exit", resolve));
    dev.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});
