// `praas init` then `praas dev DIR`, in a directory outside the repository, as a user runs
// them: the scaffolded application is deployed at start, every file change redeploys it and
// moves running processes to the new version with their state, a broken edit keeps the
// previous version serving, function logs appear in the same terminal, and Ctrl-C stops it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { appendFile, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { CLI, testEnv } from "../helpers/praas-up.js";

/** Added to the scaffold's counter: a function that logs and reads the state. */
const TWICE = `
export async function twice(_input: Uint8Array, ctx: Context): Promise<number> {
  const count = Number(new TextDecoder().decode((await ctx.state.get("count")) ?? new Uint8Array()));
  console.log("doubling", count);
  return 2 * count;
}
`;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let dev: ChildProcess;
let client: PraaS;
let appDir: string;
let source: string;
let scaffold: string;
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
const run = promisify(execFile);

beforeAll(async () => {
  temp = await makeTempDir("cli-dev");
  appDir = path.join(temp.dir, "my-app");
  source = path.join(appDir, "src", "index.ts");
  const init = await run(process.execPath, [CLI, "init", appDir, "--template", "counter"]);
  expect(init.stdout).toContain("created application my-app");
  scaffold = await readFile(source, "utf8");
  const args = [CLI, "dev", appDir, "--port", "0", "--data-dir", path.join(temp.dir, "data")];
  dev = spawn(process.execPath, args, { env: testEnv(), stdio: ["ignore", "pipe", "inherit"] });
  collect(dev);
  const listening = await line(/listening on (http:\S+);/);
  client = new PraaS(/listening on (http:\S+);/.exec(listening)![1]!);
  await line(/deployed my-app version 1 \(add, get\)/);
});

afterAll(async () => {
  await client?.close();
  if (dev?.exitCode === null) dev.kill("SIGKILL");
  await temp?.remove();
});

describe("praas dev", { timeout: 180_000 }, () => {
  it("redeploys on change and upgrades running processes, state kept; logs appear", async () => {
    await client.createProcess("my-app", "c1", { vcpus: 1 });
    expect(text(await client.invoke("my-app", "add", "5", { process: "c1" }))).toBe("5");

    const from = lines.length;
    await appendFile(source, TWICE);
    await line(/deployed my-app version 2 \(add, get, twice\)/, from);
    await line(/upgraded my-app\/c1 to version 2/, from);
    expect(text(await client.invoke("my-app", "twice", "", { process: "c1" }))).toBe("10");
    await line(/c1 {2}twice {2}doubling 5/, from);
  });

  it("keeps the previous version serving when an edit does not build", async () => {
    const from = lines.length;
    await writeFile(source, "export function broken( {");
    await line(/deploy failed; still running the previous version/, from);
    expect(text(await client.invoke("my-app", "twice", "", { process: "c1" }))).toBe("10");
    expect((await client.getApplication("my-app")).version).toBe(2);
  });

  it("sees saves of a file an editor replaced (atomic save), and later saves in place", async () => {
    let from = lines.length;
    // Written aside and renamed over the file, as editors' safe writes and `sed -i` do.
    await writeFile(`${source}.tmp`, scaffold + TWICE);
    await rename(`${source}.tmp`, source);
    await line(/deployed my-app version 3 \(add, get, twice\)/, from);
    from = lines.length;
    await appendFile(source, TWICE.replaceAll("twice", "thrice"));
    await line(/deployed my-app version 4 \(add, get, thrice, twice\)/, from, 20_000);
  });

  it("stops on Ctrl-C (SIGINT) with exit code 0", async () => {
    const exited = new Promise<number | null>((resolve) => dev.once("exit", resolve));
    dev.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});
