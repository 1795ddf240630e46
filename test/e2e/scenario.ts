/**
 * The end-to-end scenario of the control-plane issue, driven only through the CLI, the SDK and
 * plain HTTP against a real `praas up`. Run once per storage configuration.
 */
import path from "node:path";
import { expect, it } from "vitest";
import { PraaS, type ProcessListInfo } from "../../src/sdk/index.js";
import { cli, type RunningPraaS } from "../helpers/praas-up.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");
const example = (name: string): string => path.resolve("examples", name);

async function http(
  praas: RunningPraaS,
  method: string,
  route: string,
  body?: string,
): Promise<Response> {
  return fetch(`${praas.url}${route}`, { method, ...(body === undefined ? {} : { body }) });
}

export function scenario(getRunning: () => RunningPraaS): void {
  it("deploys with the CLI and lists the functions", async () => {
    const praas = getRunning();
    const deployed = await cli(["deploy", example("counter"), "--url", praas.url, "--json"]);
    expect(deployed.stderr).toBe("");
    expect(deployed.code).toBe(0);
    expect(JSON.parse(deployed.stdout)).toMatchObject({
      name: "counter",
      version: 1,
      functions: ["add", "get", "reset"],
    });
    const client = new PraaS(praas.url);
    await client.deploy("pingpong", example("ping-pong"));
    expect((await client.listApplications()).map((a) => a.name)).toEqual(["counter", "pingpong"]);
    await client.close();
  });

  it("creates processes and invokes them directly and through the control plane", async () => {
    const client = new PraaS(getRunning().url);
    const p1 = await client.createProcess("counter", "p1", { vcpus: 1, memory: 128 });
    expect(p1.status).toBe("active");
    const conn = await p1.connect();
    expect(text(await conn.invoke("add", "5"))).toBe("5");
    const response = await http(getRunning(), "POST", "/apps/counter/invoke/add?process=p1", "7");
    expect(response.status).toBe(200);
    expect(response.headers.get("x-praas-process")).toBe("p1");
    expect(await response.text()).toBe("12");
    expect(text(await client.invoke("counter", "get", "", { process: "p1" }))).toBe("12");
    await conn.close();
    await client.close();
  });

  it("exchanges messages and invokes remotely across two processes without manual peer setup", async () => {
    const client = new PraaS(getRunning().url);
    await Promise.all([
      client.createProcess("pingpong", "a"),
      client.createProcess("pingpong", "b"),
    ]);
    const out = await client.invoke("pingpong", "ping", JSON.stringify({ peer: "b", rounds: 5 }), {
      process: "a",
    });
    expect(JSON.parse(text(out))).toMatchObject({
      rounds: 5,
      last: "pong 4",
      peerSays: "served 5",
    });
    const who = JSON.parse(
      text(await client.invoke("pingpong", "whoami", "", { process: "b" })),
    ) as unknown;
    expect(who).toEqual({ process: "b", peers: { active: ["a", "b"], swapped: [] } });
    await client.close();
  });

  it("swaps out with the CLI, lists it as swapped, resumes with state intact", async () => {
    const praas = getRunning();
    const swapped = await cli(["process", "swap", "counter", "p1", "--url", praas.url, "--json"]);
    expect(swapped.code).toBe(0);
    expect(JSON.parse(swapped.stdout)).toMatchObject({
      status: "swapped",
      stateSize: expect.any(Number) as number,
    });
    const list = (await (
      await http(praas, "GET", "/apps/counter/processes")
    ).json()) as ProcessListInfo;
    expect(list.swapped.map((p) => p.name)).toEqual(["p1"]);
    expect(list.active).toEqual([]);
    const client = new PraaS(praas.url);
    const resumed = await client.resume("counter", "p1");
    expect(resumed.status).toBe("active");
    const conn = await resumed.connect();
    expect(text(await conn.invoke("get"))).toBe("12");
    await conn.close();
    await client.close();
  });

  it("resumes a swapped process for a sticky invocation", async () => {
    const praas = getRunning();
    const client = new PraaS(praas.url);
    await client.swap("counter", "p1");
    const response = await http(praas, "POST", "/apps/counter/invoke/add?process=p1", "1");
    expect(await response.text()).toBe("13");
    expect((await client.getProcess("counter", "p1")).status).toBe("active");
    await client.close();
  });

  it("resumes a swapped peer when another process sends to it", async () => {
    const client = new PraaS(getRunning().url);
    await client.swap("pingpong", "b");
    const out = await client.invoke("pingpong", "ping", JSON.stringify({ peer: "b", rounds: 2 }), {
      process: "a",
    });
    expect(JSON.parse(text(out))).toMatchObject({ rounds: 2, peerSays: "served 2" });
    expect((await client.getProcess("pingpong", "b")).status).toBe("active");
    await client.close();
  });

  it("allocates a process for an invocation without ?process when the app has none", async () => {
    const praas = getRunning();
    const client = new PraaS(praas.url);
    try {
      // A fresh application: no process exists, so only the allocation path can answer.
      await client.deploy("alloc", example("counter"));
      expect(await client.listProcesses("alloc")).toMatchObject({ active: [], swapped: [] });
      const response = await http(praas, "POST", "/apps/alloc/invoke/add", "2");
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("2");
      const name = response.headers.get("x-praas-process") ?? "";
      expect(name).not.toBe("");
      const allocated = await client.getProcess("alloc", name);
      expect(allocated.status).toBe("active");
      expect((await client.listProcesses("alloc")).active.map((p) => p.name)).toEqual([name]);
    } finally {
      await client.deleteApplication("alloc", { force: true });
      await client.close();
    }
  });

  it("deletes processes with the CLI", async () => {
    const praas = getRunning();
    const removed = await cli(["process", "rm", "counter", "p1", "--url", praas.url]);
    expect(removed.code).toBe(0);
    const response = await http(praas, "GET", "/apps/counter/processes/p1");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "PROCESS_NOT_FOUND" } });
  });
}
