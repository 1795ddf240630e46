// Scheduled work against a real `praas up`: `ctx.setAlarm` invokes a function of the same
// process later, with its payload, even when the process was swapped out meanwhile (it is
// resumed for it) or the control plane restarted; replacing, cancelling, invalid requests, and
// a failing alarm retried then dropped.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessInfo } from "../../src/protocol/index.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { cli, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

/** More exported functions than a process may have alarms, so the limit can be reached. */
const FILLERS = 101;

const APP_SOURCE = `
const text = (bytes) => new TextDecoder().decode(bytes ?? new Uint8Array());

/** {delayMs, function?, payload?, at?} → "ok", or "error:<code>" when refused. */
export async function schedule(input, ctx) {
  const request = JSON.parse(text(input));
  const at = "at" in request ? request.at : Date.now() + request.delayMs;
  const payload = request.bigPayload ? "x".repeat(request.bigPayload) : request.payload;
  try {
    await ctx.setAlarm(at, { function: request.function, payload });
    return "ok";
  } catch (error) {
    return "error:" + error.code;
  }
}

export async function cancel(input, ctx) {
  return String(await ctx.cancelAlarm(text(input) || undefined));
}

/** Sets an alarm for each filler function; answers how many were accepted and the refusal. */
export async function fill(_input, ctx) {
  let accepted = 0;
  for (let i = 0; i < ${FILLERS}; i++) {
    try {
      await ctx.setAlarm(Date.now() + 3_600_000, { function: "f" + i });
      accepted++;
    } catch (error) {
      return accepted + ":" + error.code;
    }
  }
  return String(accepted);
}

export async function alarm(input, ctx) {
  await ctx.state.put("fired", text(input));
  await ctx.state.put("firedAt", String(Date.now()));
}

export async function other(input, ctx) {
  await ctx.state.put("other", text(input));
}

export async function flaky(_input, ctx) {
  const attempt = await ctx.state.increment("flaky");
  throw new Error("attempt " + attempt + " fails");
}

export async function read(input, ctx) {
  return text(await ctx.state.get(text(input)));
}

${Array.from({ length: FILLERS }, (_, i) => `export async function f${i}() {}`).join("\n")}
`;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let dataDir: string;
let praas: RunningPraaS | undefined;
let client: PraaS;

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();
/** Retries of a failing alarm start after 100 ms here, so six attempts take seconds. */
const UP_ARGS = ["--alarm-retry", "100"];
const WAIT_MS = 60_000;
const POLL_MS = 100;

async function up(): Promise<void> {
  praas = await startPraaS({ dataDir, extraArgs: UP_ARGS });
  client = new PraaS(praas.url);
}

async function schedule(proc: string, request: object): Promise<string> {
  return text(await client.invoke("clock", "schedule", JSON.stringify(request), { process: proc }));
}

async function read(proc: string, key: string): Promise<string> {
  return text(await client.invoke("clock", "read", key, { process: proc }));
}

async function info(proc: string): Promise<ProcessInfo> {
  return (await client.getProcess("clock", proc)).info;
}

/** Polls `probe` until `done` holds for its value (bounded); resolves that value. */
async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`still ${JSON.stringify(value)} after ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function create(proc: string): Promise<void> {
  await client.createProcess("clock", proc, { vcpus: 1, memory: 128 });
}

beforeAll(async () => {
  temp = await makeTempDir("e2e-alarms");
  dataDir = path.join(temp.dir, "data");
  const appDir = path.join(temp.dir, "clock");
  await mkdir(appDir);
  await writeFile(path.join(appDir, "praas.json"), JSON.stringify({ name: "clock" }));
  await writeFile(path.join(appDir, "index.js"), APP_SOURCE);
  await up();
  await client.deploy("clock", appDir);
});

afterAll(async () => {
  await client?.close();
  await praas?.stop();
  await temp?.remove();
});

describe("alarms", { timeout: 180_000 }, () => {
  it("an alarm invokes the named function of the same process with its payload", async () => {
    await create("p1");
    expect(await schedule("p1", { delayMs: 500, payload: "hello" })).toBe("ok");
    expect(await schedule("p1", { delayMs: 500, function: "other", payload: "world" })).toBe("ok");
    expect(
      await until(
        () => read("p1", "fired"),
        (v) => v !== "",
      ),
    ).toBe("hello");
    expect(
      await until(
        () => read("p1", "other"),
        (v) => v !== "",
      ),
    ).toBe("world");
    await until(
      () => info("p1"),
      (p) => p.alarms === undefined,
    );
  });

  it("a swapped process is resumed for its alarm", async () => {
    await create("p2");
    expect(await schedule("p2", { delayMs: 3_000, payload: "after swap" })).toBe("ok");
    expect((await client.swap("clock", "p2")).status).toBe("swapped");
    // Only the alarm uses the process now: nothing else would resume it.
    const resumed = await until(
      () => info("p2"),
      (p) => p.status === "active" && p.alarms === undefined,
    );
    expect(resumed.status).toBe("active");
    expect(await read("p2", "fired")).toBe("after swap");
  });

  it("replacing and cancelling; the process shows its alarms without payloads", async () => {
    await create("p3");
    const inAnHour = Date.now() + 3_600_000;
    expect(await schedule("p3", { at: inAnHour, payload: "secret" })).toBe("ok");
    expect(await schedule("p3", { at: inAnHour + 60_000, payload: "secret" })).toBe("ok");
    expect(await schedule("p3", { at: inAnHour, function: "other" })).toBe("ok");
    const { alarms } = await info("p3");
    expect(alarms).toEqual([
      { function: "other", at: new Date(inAnHour).toISOString() },
      { function: "alarm", at: new Date(inAnHour + 60_000).toISOString() },
    ]);
    const shown = await cli(["process", "get", "clock", "p3", "--url", praas!.url]);
    expect(shown.stdout).toMatch(/alarms:\s+other at .*, alarm at /);
    expect(shown.stdout).not.toContain("secret");

    const cancelled = (fn: string): Promise<Uint8Array> =>
      client.invoke("clock", "cancel", fn, { process: "p3" });
    expect(text(await cancelled(""))).toBe("true");
    expect(text(await cancelled(""))).toBe("false");
    expect(text(await cancelled("other"))).toBe("true");
    expect((await info("p3")).alarms).toBeUndefined();
  });

  it("refuses invalid alarms", async () => {
    await create("p4");
    expect(await schedule("p4", { delayMs: 0, function: "nope" })).toBe("error:FUNCTION_NOT_FOUND");
    expect(await schedule("p4", { at: "soon" })).toBe("error:BAD_REQUEST");
    expect(await schedule("p4", { delayMs: 0, bigPayload: 64 * 1024 + 1 })).toBe(
      "error:BAD_REQUEST",
    );
    const filled = text(await client.invoke("clock", "fill", "", { process: "p4" }));
    expect(filled).toBe("100:BAD_REQUEST");
    expect((await info("p4")).alarms).toHaveLength(100);
  });

  it("a failing alarm is retried, then dropped after its last attempt", async () => {
    await create("p5");
    expect(await schedule("p5", { delayMs: 0, function: "flaky" })).toBe("ok");
    await until(
      () => info("p5"),
      (p) => p.alarms === undefined,
    );
    expect(await read("p5", "flaky")).toBe("6");
  });

  it("an alarm survives a control-plane restart", async () => {
    await create("p6");
    expect(await schedule("p6", { delayMs: 4_000, payload: "restarted" })).toBe("ok");
    await praas!.stop();
    const stoppedAt = Date.now();
    praas = undefined;
    await client.close();
    await up();
    expect(
      await until(
        () => read("p6", "fired"),
        (v) => v !== "",
      ),
    ).toBe("restarted");
    // It fired in the new control plane, not in the old one before it stopped.
    expect(Number(await read("p6", "firedAt"))).toBeGreaterThanOrEqual(stoppedAt);
  });
});
