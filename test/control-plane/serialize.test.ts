// praas.json "serialize" through the control plane: a deploy stores it with the application and
// every process of the application runs those functions one invocation at a time.
import { describe, expect, it } from "vitest";
import { useDeployedPlane } from "../helpers/deployed-plane.js";
import { text } from "../helpers/process-harness.js";

const deployed = useDeployedPlane("cp-serialize", "bank", "test/fixtures/apps/transactions");

describe("praas.json serialize", () => {
  it("reaches the application's processes: serialized calls never overlap", async () => {
    const proc = await deployed.client().createProcess("bank", "gate", { vcpus: 2, memory: 256 });
    const conn = await proc.connect();
    try {
      const free = await Promise.all([conn.invoke("ungated"), conn.invoke("ungated")]);
      expect(Math.max(...free.map((r) => Number(text(r))))).toBe(2);
      const gated = await Promise.all([conn.invoke("gated"), conn.invoke("gated")]);
      expect(gated.map(text)).toEqual(["1", "1"]);
    } finally {
      await conn.close();
      await deployed.client().deleteProcess("bank", "gate");
    }
  });
});
