// State under concurrency against real processes with two workers: the counter example,
// transfers in transactions, atomic helpers, CONFLICT, and the serialize input gate.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApplication } from "../../src/apps/index.js";
import type { ProcessConnection } from "../../src/sdk/index.js";
import {
  bundleFixture,
  makeTempDir,
  rejection,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
const running: { proc: RunningProcess; conn: ProcessConnection }[] = [];
let counter: ProcessConnection;
let todos: ProcessConnection;
let app: ProcessConnection;

async function start(
  name: string,
  bundle: string,
  args: string[] = [],
): Promise<ProcessConnection> {
  const proc = await startProcess({ name, bundle, blobDir: temp.dir, workers: 2, args });
  const conn = await proc.connect();
  running.push({ proc, conn });
  return conn;
}

/** Bundles examples/<name> into the temp dir; returns the bundle path. */
async function bundleExample(name: string): Promise<string> {
  const built = await buildApplication(path.resolve("examples", name));
  const file = path.join(temp.dir, `${name}.mjs`);
  await writeFile(file, built.code);
  return file;
}

beforeAll(async () => {
  temp = await makeTempDir("transactions");
  counter = await start("counter", await bundleExample("counter"));
  todos = await start("todos", await bundleExample("todo-ts"));
  const bundle = await bundleFixture("transactions", temp.dir);
  app = await start("bank", bundle, ["--serialize", "gated,hold,quick"]);
});

afterAll(async () => {
  try {
    for (const { conn, proc } of running) {
      try {
        await conn.close();
      } finally {
        await proc.stop();
      }
    }
  } finally {
    await temp?.remove();
  }
});

const call = async (fn: string, body?: unknown): Promise<string> =>
  text(await app.invoke(fn, body === undefined ? undefined : JSON.stringify(body)));

describe("the counter example", () => {
  it("counts 100 concurrent adds on two workers exactly", async () => {
    const results = await Promise.all(
      Array.from({ length: 100 }, () => counter.invoke("add", "1")),
    );
    expect(text(await counter.invoke("get"))).toBe("100");
    expect(new Set(results.map(text)).size).toBe(100); // each add saw a value of its own
  });
});

describe("the todo-ts example", () => {
  it("keeps every one of 20 concurrent adds, each with an id of its own", async () => {
    const titles = Array.from({ length: 20 }, (_, i) => `todo ${i}`);
    await Promise.all(titles.map((title) => todos.invoke("add", JSON.stringify({ title }))));
    const list = JSON.parse(text(await todos.invoke("list"))) as { id: number; title: string }[];
    expect(list.map((todo) => todo.title).sort()).toEqual([...titles].sort());
    expect(list.map((todo) => todo.id)).toEqual(titles.map((_, i) => i + 1));
  });
});

describe("transactions on two workers", () => {
  it("keep the total of random concurrent transfers, never a negative balance", async () => {
    const accounts = 5;
    await call("open", { accounts, balance: 100 });
    let seed = 42;
    const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const transfers = Array.from({ length: 200 }, () => {
      const from = random(accounts);
      return { from, to: (from + 1 + random(accounts - 1)) % accounts, amount: 1 + random(60) };
    });
    const audits = Array.from({ length: 20 }, () => call("audit", { accounts }));
    const outcomes = await Promise.all(transfers.map((t) => call("transfer", t)));
    expect(new Set(outcomes)).toEqual(new Set(["moved", "insufficient"]));
    for (const seen of [...(await Promise.all(audits)), await call("audit", { accounts })]) {
      const balances = JSON.parse(seen) as number[];
      expect(balances.reduce((sum, b) => sum + b, 0)).toBe(accounts * 100);
      expect(balances.every((b) => b >= 0)).toBe(true);
    }
  });

  it("fail with CONFLICT once every attempt met a changed read", async () => {
    const once = JSON.parse(await call("contested", { maxAttempts: 1 })) as Record<string, unknown>;
    expect(once).toMatchObject({ attempts: 1, code: "CONFLICT" });
    const thrice = JSON.parse(await call("contested", { maxAttempts: 3 })) as Record<
      string,
      unknown
    >;
    expect(thrice).toMatchObject({ attempts: 3, code: "CONFLICT" });
    expect(thrice.message).toMatch(/gave up after 3 attempts/);
    const escaped = await rejection(call("contested", { maxAttempts: 2, rethrow: true }));
    expect(escaped.code).toBe("CONFLICT"); // the client sees the code (HTTP: 409)
  });

  it("increment atomically and refuses a stored value that is not a number", async () => {
    const sums = await Promise.all(
      Array.from({ length: 40 }, () => call("incrementBy", { key: "i", delta: 2 })),
    );
    expect(sums.map(Number).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 40 }, (_, i) => 2 * (i + 1)),
    );
    const refused = await rejection(call("incrementBy", { key: "w", delta: 1, put: "abc" }));
    expect([refused.code, refused.message]).toEqual([
      "BAD_REQUEST",
      expect.stringContaining("not a number") as string,
    ]);
  });
});

describe("the serialize input gate", () => {
  it("never lets two invocations of a serialized function overlap", async () => {
    // The probe waits for a second invocation to come in: unserialized, they meet.
    const free = await Promise.all([call("ungated"), call("ungated")]);
    expect(Math.max(...free.map(Number))).toBe(2);
    expect(await Promise.all([call("gated"), call("gated")])).toEqual(["1", "1"]);
    const log = (await app.invoke("log", "gated").then(text)).split(";").filter(Boolean);
    expect(log.map((entry) => entry.split(":")[0])).toEqual(["enter", "leave", "enter", "leave"]);
    expect(log[0]?.split(":")[1]).toBe(log[1]?.split(":")[1]);
  });

  it("runs a serialized call only after the one before it finished", async () => {
    const order: string[] = [];
    const held = app.invoke("hold").then((r) => order.push(`hold:${text(r)}`));
    const queued = app.invoke("quick").then((r) => order.push(text(r)));
    expect(await call("release")).toBe("ok"); // not serialized: runs past the queue
    await Promise.all([held, queued]);
    expect(order).toEqual(["hold:released", "quick"]);
  });
});
