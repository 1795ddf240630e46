// A process without a control plane cannot keep alarms: setting or cancelling one is refused
// with UNAVAILABLE (nobody would fire it), and an alarm for a function the application does not
// export is refused by the process with FUNCTION_NOT_FOUND before anything is stored.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessConnection } from "../../src/sdk/index.js";
import {
  bundleFixture,
  makeTempDir,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let proc: RunningProcess;
let conn: ProcessConnection;

beforeAll(async () => {
  temp = await makeTempDir("alarms-standalone");
  const bundle = await bundleFixture("alarms", temp.dir);
  proc = await startProcess({ name: "lonely", bundle, blobDir: temp.dir });
  conn = await proc.connect();
});

afterAll(async () => {
  try {
    await conn?.close();
    await proc?.stop();
  } finally {
    await temp?.remove();
  }
});

describe("alarms without a control plane", { timeout: 60_000 }, () => {
  it("refuses to set or cancel an alarm with UNAVAILABLE", async () => {
    expect(text(await conn.invoke("schedule", ""))).toBe("error:UNAVAILABLE");
    expect(text(await conn.invoke("cancel", ""))).toBe("error:UNAVAILABLE");
  });

  it("refuses an alarm for a function the application lacks", async () => {
    expect(text(await conn.invoke("schedule", "missing"))).toBe("error:FUNCTION_NOT_FOUND");
  });
});
