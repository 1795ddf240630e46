/**
 * The NAT-traversal wiring without NATs (no root needed): a control plane that hosts a
 * rendezvous and registers its processes as reachable by `punch` only. Clients (the SDK), the
 * control plane's own invocations and peers (messages, remote invocations) all pair through the
 * rendezvous on loopback, the process counts its connections by path, and the ticket route is
 * guarded by the API token like every other.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { packDirectory } from "../../src/apps/index.js";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";

const TOKEN = "nat-loopback-api-token";
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

describe("processes reachable only through the rendezvous (loopback)", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let plane: ControlPlane;
  let praas: PraaS;

  beforeAll(async () => {
    temp = await makeTempDir("nat-loopback");
    plane = await ControlPlane.start({
      port: 0,
      controlPort: 0,
      dataDir: temp.dir,
      apiToken: TOKEN,
      logLevel: "warn",
      processReach: "punch",
      rendezvous: { secret: "loopback-rendezvous-secret", port: 0, host: "127.0.0.1" },
    });
    await plane.deployApp("suite", await packDirectory("test/fixtures/apps/runtime-suite"));
    praas = new PraaS(plane.url, { token: TOKEN });
  });

  afterAll(async () => {
    await plane?.stop();
    await temp?.remove();
  });

  it("describes the process as punch, with the rendezvous to pair at and no ticket", async () => {
    const created = await praas.createProcess("suite", "p1");
    expect(created.info.connection).toMatchObject({
      path: "punch",
      rendezvous: plane.rendezvous,
    });
    expect(created.info.connection?.ticket).toBeUndefined();
  });

  it("connects the SDK through a pairing and counts the connection by its path", async () => {
    const connection = await (await praas.getProcess("suite", "p1")).connect();
    try {
      expect(text(await connection.invoke("echo", "paired"))).toBe("paired");
      const { connections } = (await praas.getProcess("suite", "p1")).info;
      expect(connections?.direct).toBe(0);
      expect((connections?.punch ?? 0) + (connections?.relay ?? 0)).toBe(1);
    } finally {
      await connection.close();
    }
  });

  it("issues a fresh single-use ticket per connect", async () => {
    const first = await praas.connectionInfo("suite", "p1");
    const second = await praas.connectionInfo("suite", "p1");
    expect(first.ticket).toMatch(/^rv1\./);
    expect(second.ticket).not.toBe(first.ticket);
  });

  it("refuses a ticket to a client without the API token", async () => {
    const response = await fetch(`${plane.url}/apps/suite/processes/p1/connect`, {
      method: "POST",
    });
    expect(response.status).toBe(401);
  });

  it("invokes through the control plane, which pairs too", async () => {
    const output = await praas.invoke("suite", "echo", "via the plane", { process: "p1" });
    expect(text(output)).toBe("via the plane");
  });

  it("lets two processes message and invoke each other through pairings", async () => {
    await praas.createProcess("suite", "p2");
    const [c1, c2] = await Promise.all([
      (await praas.getProcess("suite", "p1")).connect(),
      (await praas.getProcess("suite", "p2")).connect(),
    ]);
    try {
      const received = await Promise.all([
        c1.invoke("putGet", JSON.stringify({ to: "p2", key: "m" })),
        c2.invoke("putGet", JSON.stringify({ to: "p1", key: "m" })),
      ]);
      expect(received.map(text)).toEqual(["MESSAGE p1", "MESSAGE p2"]);
      const remote = await c1.invoke("remoteAdd", JSON.stringify({ process: "p2", value: "5" }));
      expect(text(remote)).toBe("10");
    } finally {
      await Promise.all([c1.close(), c2.close()]);
    }
  });

  it("shows pairings and outcomes on /metrics", async () => {
    const response = await fetch(`${plane.url}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const metrics = await response.text();
    expect(metrics).toMatch(/^praas_rendezvous_pairings_total [1-9]/m);
    expect(metrics).toMatch(/^praas_rendezvous_tickets_issued_total [1-9]/m);
    expect(metrics).toContain('praas_rendezvous_outcomes_total{outcome="failed"} 0');
    expect(metrics).toContain("praas_rendezvous_establish_seconds_count");
  });
});
