// A crashing or hanging function, seen the way a user sees it: through `praas up`'s HTTP API,
// with the documented status and error code, and the process serving again afterwards.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

const INVOCATION_TIMEOUT_MS = 2_000;

let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
let praas: RunningPraaS | undefined;

beforeAll(async () => {
  temp = await makeTempDir("e2e-failures");
  praas = await startPraaS({
    dataDir: temp.dir,
    extraArgs: ["--invocation-timeout", String(INVOCATION_TIMEOUT_MS)],
  });
  const client = new PraaS(praas.url);
  try {
    await client.deploy("misbehaves", path.resolve("test/fixtures/apps/misbehaves"));
    await client.createProcess("misbehaves", "m1");
  } finally {
    await client.close();
  }
});

afterAll(async () => {
  try {
    await praas?.stop();
  } finally {
    await temp?.remove();
  }
});

async function invoke(fn: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${praas!.url}/apps/misbehaves/invoke/${fn}?process=m1`, {
    method: "POST",
    body: "",
  });
  const body = response.headers.get("content-type")?.startsWith("application/json")
    ? await response.json()
    : await response.text();
  return { status: response.status, body };
}

describe("function failures through HTTP", () => {
  it("a function that exits its worker is a 502 WORKER_CRASHED, and the process serves on", async () => {
    const failed = await invoke("exit");
    expect(failed.status).toBe(502);
    expect(failed.body).toMatchObject({ error: { code: "WORKER_CRASHED" } });
    expect(await invoke("ok")).toEqual({ status: 200, body: "ok" });
  });

  it("a function that never returns is a 504 TIMEOUT after --invocation-timeout", async () => {
    const failed = await invoke("hang");
    expect(failed.status).toBe(504);
    expect(failed.body).toMatchObject({
      error: {
        code: "TIMEOUT",
        message: expect.stringContaining(`${INVOCATION_TIMEOUT_MS} ms`) as string,
      },
    });
    expect(await invoke("ok")).toEqual({ status: 200, body: "ok" });
  });
});
