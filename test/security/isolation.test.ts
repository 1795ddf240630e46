// What user code can reach: real functions deployed to `praas up` try to read the platform's
// environment and files, write outside their scratch dir, start programs and threads, and dial
// loopback. Everything is refused unless the application's praas.json asks.
import { execFileSync } from "node:child_process";
import { cp, readdir, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

interface Attempt {
  ok: boolean;
  code?: string;
  text?: string;
  status?: number;
  stdout?: string;
  answer?: number;
}

const API_TOKEN = "api-token-only-for-the-control-plane";
const MARKER = "PRAAS_ISOLATION_TEST_MARKER";
const isRoot = process.getuid?.() === 0;
const canUnshare = isRoot && commandWorks("unshare", ["-n", "true"]);

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let praas: RunningPraaS;
let client: PraaS;
let dataDir: string;
let loopback: net.Server;
let loopbackPort: number;

beforeAll(async () => {
  temp = await makeTempDir("isolation");
  dataDir = path.join(temp.dir, "data");
  process.env[MARKER] = "leaked from the control plane";
  praas = await startPraaS({ dataDir, apiToken: API_TOKEN });
  client = new PraaS(praas.url, { token: API_TOKEN });
  await client.deploy("iso", path.resolve("test/fixtures/apps/isolation"));
  await client.deploy("allowed", await allowedApp());
  await client.deploy("other", path.resolve("test/fixtures/apps/echo-js"));
  await Promise.all(
    [
      ["iso", "a"],
      ["iso", "b"],
      ["allowed", "x"],
      ["other", "o1"],
    ].map(([app = "", name = ""]) => client.createProcess(app, name, { vcpus: 1, memory: 128 })),
  );
  await client.swap("other", "o1");
  [loopback, loopbackPort] = await listenOnLoopback();
});

afterAll(async () => {
  delete process.env[MARKER];
  await praas?.stop();
  await new Promise((resolve) => (loopback ? loopback.close(resolve) : resolve(undefined)));
  await temp?.remove();
});

/** The fixture with every permission asked for, under another name. */
async function allowedApp(): Promise<string> {
  const dir = path.join(temp.dir, "allowed-app");
  await cp(path.resolve("test/fixtures/apps/isolation"), dir, { recursive: true });
  const permissions = { childProcess: true, workerThreads: true, network: true };
  await writeFile(path.join(dir, "praas.json"), JSON.stringify({ permissions }));
  return dir;
}

function listenOnLoopback(): Promise<[net.Server, number]> {
  const server = net.createServer((socket) => socket.destroy());
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve([server, (server.address() as net.AddressInfo).port]),
    ),
  );
}

function commandWorks(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function call<T = Attempt>(app: string, proc: string, fn: string, input = {}): Promise<T> {
  const out = await client.invoke(app, fn, JSON.stringify(input), { process: proc });
  return JSON.parse(Buffer.from(out).toString("utf8")) as T;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

async function dataFiles(): Promise<{ snapshot: string; otherBundles: string[] }> {
  const files = await filesUnder(dataDir);
  const snapshot = files.find((f) => f.includes(path.join("swaps", "other")));
  const otherBundles = files.filter((f) => f.includes("other") && f.endsWith(".mjs"));
  if (!snapshot || otherBundles.length === 0)
    throw new Error(`unexpected data dir: ${files.join(", ")}`);
  return { snapshot, otherBundles };
}

describe("environment", () => {
  it("shows functions exactly the app's declared env and their TMPDIR", async () => {
    const env = await call<Record<string, string>>("iso", "a", "env");
    // Node adds NODE_V8_COVERAGE to every child's environment while coverage is measured.
    const names = Object.keys(env).filter((name) => name !== "NODE_V8_COVERAGE");
    expect(names.sort()).toEqual(["GREETING", "TMPDIR"]);
    expect(env.GREETING).toBe("hello from praas.json");
    const text = JSON.stringify(env);
    for (const secret of [API_TOKEN, "S3RVER", "leaked from the control plane"])
      expect(text).not.toContain(secret);
  });
});

describe("files", () => {
  it("refuses reading the data dir, another app's bundle and a swapped snapshot", async () => {
    const { snapshot, otherBundles } = await dataFiles();
    for (const file of [snapshot, ...otherBundles, dataDir]) {
      const attempt = await call("iso", "a", "read", { path: file });
      expect(attempt, file).toMatchObject({ ok: false });
    }
  });

  it("refuses reading another process's scratch dir", async () => {
    const written = await call<Attempt & { file: string }>("iso", "a", "scratch", { text: "a's" });
    expect(written.ok).toBe(true);
    expect(await call("iso", "b", "read", { path: written.file })).toMatchObject({ ok: false });
    expect(await call("iso", "a", "read", { path: written.file })).toMatchObject({
      ok: true,
      text: "a's",
    });
  });

  it("lets functions write only into their scratch dir", async () => {
    const { tmpdir } = await call<{ tmpdir: string }>("iso", "a", "whoami");
    const inside = await call("iso", "a", "write", { file: path.join(tmpdir, "ok.txt") });
    expect(inside.ok).toBe(true);
    for (const file of [path.join(temp.dir, "escaped.txt"), path.join(dataDir, "escaped.txt")]) {
      expect(await call("iso", "a", "write", { file }), file).toMatchObject({ ok: false });
    }
  });
});

describe("processes and threads", () => {
  const shell = { command: "/bin/sh", args: ["-c", "echo hi"] };

  it("refuses starting a program or a worker thread unless praas.json asks", async () => {
    const denied = { ok: false, code: "ERR_ACCESS_DENIED" };
    expect(await call("iso", "a", "run", shell)).toMatchObject(denied);
    expect(await call("iso", "a", "thread")).toMatchObject(denied);
    const program = await call("allowed", "x", "run", shell);
    expect(program).toMatchObject({ ok: true, status: 0, stdout: "hi" });
    expect(await call("allowed", "x", "thread")).toEqual({ ok: true, answer: 42 });
  });
});

describe.skipIf(!isRoot)("users (the platform runs as root)", () => {
  it("runs each process's workers as a distinct unprivileged uid", async () => {
    const [a, b] = await Promise.all([
      call<{ uid: number }>("iso", "a", "whoami"),
      call<{ uid: number }>("iso", "b", "whoami"),
    ]);
    expect(a.uid).toBeGreaterThanOrEqual(200_000);
    expect(b.uid).toBeGreaterThanOrEqual(200_000);
    expect(a.uid).not.toBe(b.uid);
  });

  it("keeps the data dir and other scratch dirs from a program a function starts", async () => {
    const { snapshot } = await dataFiles();
    const written = await call<{ file: string }>("iso", "a", "scratch", { text: "a's" });
    for (const file of [snapshot, written.file]) {
      const attempt = await call("allowed", "x", "run", { command: "/bin/cat", args: [file] });
      expect(attempt, file).toMatchObject({ ok: true });
      expect(attempt.status, file).not.toBe(0);
    }
  });
});

describe.skipIf(!canUnshare)("network (root with unshare)", () => {
  it("refuses loopback (a test server, the control plane's API) unless praas.json asks", async () => {
    const api = new URL(praas.url);
    for (const port of [loopbackPort, Number(api.port)]) {
      const attempt = await call("iso", "a", "connect", { host: "127.0.0.1", port });
      expect(attempt, String(port)).toMatchObject({ ok: false });
    }
    const allowed = await call("allowed", "x", "connect", {
      host: "127.0.0.1",
      port: loopbackPort,
    });
    expect(allowed).toEqual({ ok: true });
  });
});
