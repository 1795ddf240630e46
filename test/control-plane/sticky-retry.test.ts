// A sticky invocation through the control plane is sent again only when the process refused it
// before running it (it was on its way out). A function's own UNAVAILABLE (or one it let
// through from a call it made) reaches the caller after one run, named as the function's.
import { describe, expect, it } from "vitest";
import type { PraaS } from "../../src/sdk/index.js";
import { useDeployedPlane } from "../helpers/deployed-plane.js";
import { rejection, text } from "../helpers/process-harness.js";

const deployed = useDeployedPlane("cp-sticky-retry", "suite", "test/fixtures/apps/runtime-suite");

const runs = async (praas: PraaS): Promise<unknown> => {
  const read = JSON.stringify({ op: "get", key: "runs" });
  const output = await praas.invoke("suite", "stateOps", read, { process: "p" });
  return (JSON.parse(text(output)) as { value: unknown }).value;
};

describe("sticky invocation retries", () => {
  it("never runs a function twice because it failed with UNAVAILABLE", async () => {
    const praas = deployed.client();
    await praas.createProcess("suite", "p", { vcpus: 1, memory: 256 });
    // The control plane now holds the process's record and a pooled connection: the path
    // that sends a refused call again.
    expect(text(await praas.invoke("suite", "add", "1", { process: "p" }))).toBe("1");

    const viaPlane = await rejection(praas.invoke("suite", "bumpThenRefuse", "", { process: "p" }));
    expect(viaPlane.code).toBe("UNAVAILABLE");
    expect(viaPlane.errorName).toBe("PraaSError");
    expect(viaPlane.message).toContain("run 1 says");
    expect(await runs(praas)).toBe("1");

    const conn = await (await praas.getProcess("suite", "p")).connect();
    try {
      const direct = await rejection(conn.invoke("bumpThenRefuse"));
      expect(direct.code).toBe("UNAVAILABLE");
      expect(direct.errorName).toBe("PraaSError");
    } finally {
      await conn.close();
    }
    expect(await runs(praas)).toBe("2");
  });
});
