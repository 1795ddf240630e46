// praas.json "serialize" through the control plane: a deploy stores it with the application and
// every process of the application runs those functions one invocation at a time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, text } from "../helpers/process-harness.js";

let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
let plane: ControlPlane | undefined;
let client: PraaS | undefined;

beforeAll(async () => {
  temp = await makeTempDir("cp-serialize");
  plane = await ControlPlane.start({ port: 0, dataDir: temp.dir, logLevel: "warn" });
  client = new PraaS(plane.url);
  await client.deploy("bank", "test/fixtures/apps/transactions");
});

afterAll(async () => {
  await client?.close();
  await plane?.stop();
  await temp?.remove();
});

describe("praas.json serialize", () => {
  it("reaches the application's processes: serialized calls never overlap", async () => {
    const proc = await client!.createProcess("bank", "gate", { vcpus: 2, memory: 256 });
    const conn = await proc.connect();
    try {
      const free = await Promise.all([conn.invoke("ungated"), conn.invoke("ungated")]);
      expect(Math.max(...free.map((r) => Number(text(r))))).toBe(2);
      const gated = await Promise.all([conn.invoke("gated"), conn.invoke("gated")]);
      expect(gated.map(text)).toEqual(["1", "1"]);
    } finally {
      await conn.close();
      await client!.deleteProcess("bank", "gate");
    }
  });
});
