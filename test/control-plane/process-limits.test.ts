// Per-process limits set through the control plane: from the create body or the application's
// praas.json defaults, stored with the process (a resume keeps them), shown in its description
// and enforced by the process itself.
import { describe, expect, it } from "vitest";
import type { PraaS } from "../../src/sdk/index.js";
import { useDeployedPlane } from "../helpers/deployed-plane.js";
import { rejection, text } from "../helpers/process-harness.js";
import { errorLine, runCli } from "../cli/run-cli.js";

const deployed = useDeployedPlane("cp-process-limits", "limits", "test/fixtures/apps/limits");

/** The first direct connection serves; a second one is refused while the first stays open. */
async function expectOneConnection(praas: PraaS, app: string, name: string): Promise<void> {
  const proc = await praas.getProcess(app, name);
  const first = await proc.connect();
  try {
    expect(text(await first.invoke("echo", "one"))).toBe("one");
    const refused = await rejection(proc.connect());
    expect(refused.code).toBe("TOO_MANY_REQUESTS");
    expect(text(await first.invoke("echo", "still"))).toBe("still");
  } finally {
    await first.close();
  }
}

describe("process limits through the control plane", () => {
  it("maxConnections: 1 refuses a second connection; a resume keeps the limit", async () => {
    const praas = deployed.client();
    const proc = await praas.createProcess("limits", "one-conn", {
      memory: 128,
      limits: { maxConnections: 1 },
    });
    expect(proc.info.limits).toEqual({ maxConnections: 1 });
    await expectOneConnection(praas, "limits", "one-conn");

    await praas.swap("limits", "one-conn");
    const resumed = await praas.resume("limits", "one-conn");
    expect(resumed.info.limits).toEqual({ maxConnections: 1 });
    expect((await praas.getProcess("limits", "one-conn")).info.limits).toEqual({
      maxConnections: 1,
    });
    await expectOneConnection(praas, "limits", "one-conn");
    await praas.deleteProcess("limits", "one-conn");
  });

  it("invocationTimeoutMs: 500 times a slow function out with TIMEOUT", async () => {
    const praas = deployed.client();
    const proc = await praas.createProcess("limits", "short", {
      memory: 128,
      limits: { invocationTimeoutMs: 500 },
    });
    const conn = await proc.connect();
    try {
      const timedOut = await rejection(conn.invoke("sleep", "20000"));
      expect(timedOut.code).toBe("TIMEOUT");
      expect(text(await conn.invoke("echo", "after"))).toBe("after");
    } finally {
      await conn.close();
      await praas.deleteProcess("limits", "short");
    }
  });

  it("refuses an unknown limit key with 400 BAD_REQUEST naming it, and creates nothing", async () => {
    const response = await fetch(`${deployed.plane().url}/apps/limits/processes/typo`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ limits: { maxConections: 1 } }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("BAD_REQUEST");
    expect(body.error.message).toContain("maxConections");
    const outOfRange = await rejection(
      deployed.client().createProcess("limits", "typo", { limits: { maxInflight: 0 } }),
    );
    expect(outOfRange.code).toBe("BAD_REQUEST");
    expect(outOfRange.message).toContain("maxInflight");
    expect((await rejection(deployed.client().getProcess("limits", "typo"))).code).toBe(
      "PROCESS_NOT_FOUND",
    );
  });

  it("takes the application's praas.json limits, each key overridable at create", async () => {
    const praas = deployed.client();
    await praas.deploy("defaulted", "test/fixtures/apps/limit-defaults");
    const defaulted = await praas.createProcess("defaulted", "d1");
    expect(defaulted.info.limits).toEqual({ maxConnections: 1, invocationTimeoutMs: 30_000 });
    expect((await praas.getApplication("defaulted")).defaults.limits).toEqual({
      maxConnections: 1,
      invocationTimeoutMs: 30_000,
    });
    await expectOneConnection(praas, "defaulted", "d1");

    const overridden = await praas.createProcess("defaulted", "d2", {
      limits: { maxConnections: 2 },
    });
    expect(overridden.info.limits).toEqual({ maxConnections: 2, invocationTimeoutMs: 30_000 });
    const first = await overridden.connect();
    const second = await overridden.connect();
    try {
      expect(text(await second.invoke("echo", "two"))).toBe("two");
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it("praas process create --limit key=value sends them; a bad key fails before any request", async () => {
    const url = deployed.plane().url;
    const args = ["process", "create", "limits", "from-cli", "--memory", "128", "--url", url];
    const limits = ["--limit", "maxConnections=1", "--limit", "maxInflight=100"];
    const created = await runCli([...args, ...limits, "--json"]);
    expect(created.code).toBe(0);
    const info = JSON.parse(created.stdout.toString("utf8")) as { limits: object };
    expect(info.limits).toEqual({ maxConnections: 1, maxInflight: 100 });
    await expectOneConnection(deployed.client(), "limits", "from-cli");

    const typo = await runCli([...args, "--limit", "maxConections=1"]);
    expect(typo.code).toBe(1);
    expect(errorLine(typo)).toContain('unknown key "maxConections"');
    const noValue = await runCli([...args, "--limit", "maxInflight"]);
    expect(errorLine(noValue)).toContain("expected key=value");
  });
});
