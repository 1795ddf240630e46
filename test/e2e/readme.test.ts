// Every command the README shows, run through the CLI against a real `praas up --deploy-examples`
// (what `npm start` runs) on a free port: the README cannot drift from the code unnoticed.
// Keep this file in step with README.md (Quick start, Examples, CLI).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/process-harness.js";
import { cli, startPraaSOnFreePort, type RunningPraaS } from "../helpers/praas-up.js";

let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
let praas: RunningPraaS | undefined;

beforeAll(async () => {
  temp = await makeTempDir("e2e-readme");
  praas = await startPraaSOnFreePort({ dataDir: temp.dir, extraArgs: ["--deploy-examples"] });
});

afterAll(async () => {
  try {
    await praas?.stop();
  } finally {
    await temp?.remove();
  }
});

/** `npx praas <command>` from the README, pointed at the test's control plane; stdout on success. */
async function praasCli(command: string[]): Promise<string> {
  const result = await cli([...command, "--url", praas!.url]);
  if (result.code !== 0) throw new Error(`praas ${command.join(" ")} failed: ${result.stderr}`);
  return result.stdout.trim();
}

interface Listed {
  apps: { name: string }[];
}

// Each test runs a dozen CLI processes one after another: on a loaded machine that takes
// well over the default 30 s, so the bound here is generous (it is not a speed check).
describe("README commands", { timeout: 120_000 }, () => {
  it("quick start: the counter walkthrough", async () => {
    await praasCli(["process", "create", "counter", "c1"]);
    expect(await praasCli(["invoke", "counter", "add", "--process", "c1", "--data", "5"])).toBe(
      "5",
    );
    expect(await praasCli(["invoke", "counter", "add", "--process", "c1", "--data", "7"])).toBe(
      "12",
    );
    await praasCli(["process", "swap", "counter", "c1"]);
    const listed = JSON.parse(await praasCli(["process", "ls", "counter", "--json"])) as {
      swapped: { name: string }[];
    };
    expect(listed.swapped.map((p) => p.name)).toEqual(["c1"]);
    expect(await praasCli(["invoke", "counter", "add", "--process", "c1", "--data", "1"])).toBe(
      "13",
    );
    await praasCli(["process", "rm", "counter", "c1"]);
    const after = await cli(["process", "get", "counter", "c1", "--url", praas!.url]);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain("PROCESS_NOT_FOUND");
  });

  it("examples/ping-pong: two processes messaging and invoking each other", async () => {
    await praasCli(["process", "create", "ping-pong", "a"]);
    await praasCli(["process", "create", "ping-pong", "b"]);
    const data = '{"peer":"b","rounds":100}';
    const out = await praasCli(["invoke", "ping-pong", "ping", "--process", "a", "--data", data]);
    expect(JSON.parse(out)).toMatchObject({
      rounds: 100,
      last: "pong 99",
      peerSays: "served 100",
      roundTripMs: expect.any(Number) as number,
    });
  });

  it("examples/todo-ts: typed state", async () => {
    await praasCli(["process", "create", "todo-ts", "t1"]);
    const title = '{"title":"write docs"}';
    await praasCli(["invoke", "todo-ts", "add", "--process", "t1", "--data", title]);
    expect(await praasCli(["invoke", "todo-ts", "list", "--process", "t1"])).toContain(
      "write docs",
    );
  });

  it("CLI: process create with resources, get, swap, resume, rm", async () => {
    const created = JSON.parse(
      await praasCli([
        "process",
        "create",
        "counter",
        "r1",
        "--vcpus",
        "1",
        "--memory",
        "128",
        "--json",
      ]),
    ) as { status: string; resources: { vcpus: number; memory: number } };
    expect(created).toMatchObject({ status: "active", resources: { vcpus: 1, memory: 128 } });
    await praasCli(["invoke", "counter", "add", "--process", "r1", "--data", "3"]);
    expect(
      JSON.parse(await praasCli(["process", "swap", "counter", "r1", "--json"])),
    ).toMatchObject({
      status: "swapped",
    });
    expect(JSON.parse(await praasCli(["process", "get", "counter", "r1", "--json"]))).toMatchObject(
      {
        status: "swapped",
      },
    );
    expect(
      JSON.parse(await praasCli(["process", "resume", "counter", "r1", "--json"])),
    ).toMatchObject({
      status: "active",
    });
    expect(await praasCli(["invoke", "counter", "get", "--process", "r1"])).toBe("3");
    await praasCli(["process", "rm", "counter", "r1"]);
  });

  it("CLI: apps ls, get, and rm --force", async () => {
    const { apps } = JSON.parse(await praasCli(["apps", "ls", "--json"])) as Listed;
    expect(apps.map((app) => app.name).sort()).toEqual(["counter", "ping-pong", "todo-ts"]);
    expect(JSON.parse(await praasCli(["apps", "get", "counter", "--json"]))).toMatchObject({
      name: "counter",
      functions: expect.arrayContaining(["add"]) as string[],
    });
    const refused = await cli(["apps", "rm", "todo-ts", "--url", praas!.url]);
    expect(refused.code).toBe(1);
    await praasCli(["apps", "rm", "todo-ts", "--force"]);
    const left = (JSON.parse(await praasCli(["apps", "ls", "--json"])) as Listed).apps;
    expect(left.map((app) => app.name).sort()).toEqual(["counter", "ping-pong"]);
  });
});
