// HTTPS with `praas certs`, control-link authentication, and noticing a process that died.
import { readFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FrameParser,
  FrameType,
  decodeFields,
  encodeFields,
  encodeFrame,
} from "../../src/protocol/index.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { cli, freePort, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let praas: RunningPraaS;
let controlPort: number;
let ca: Buffer;

beforeAll(async () => {
  temp = await makeTempDir("e2e-sec");
  const certs = path.join(temp.dir, "certs");
  const made = await cli(["certs", "--out", certs]);
  expect(made.code).toBe(0);
  ca = await readFile(path.join(certs, "ca.pem"));
  controlPort = await freePort();
  praas = await startPraaS({
    dataDir: temp.dir,
    controlPort,
    extraArgs: [
      "--https",
      "--cert",
      path.join(certs, "server.pem"),
      "--key",
      path.join(certs, "server-key.pem"),
    ],
  });
});

afterAll(async () => {
  await praas?.stop();
  await temp?.remove();
});

describe("HTTPS", () => {
  it("serves the API over TLS to clients that trust the CA", async () => {
    expect(praas.url.startsWith("https://")).toBe(true);
    const client = new PraaS(praas.url, { ca });
    await client.deploy("crashy", path.resolve("test/fixtures/apps/crashy"));
    expect((await client.getApplication("crashy")).functions).toEqual([
      "hang",
      "parentPid",
      "ping",
    ]);
    await client.close();
    const listed = await cli([
      "apps",
      "ls",
      "--url",
      praas.url,
      "--ca",
      path.join(temp.dir, "certs", "ca.pem"),
      "--json",
    ]);
    expect(listed.code).toBe(0);
  });

  it("refuses clients that do not trust the certificate", async () => {
    const client = new PraaS(praas.url);
    await expect(client.listApplications()).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await client.close();
  });
});

/** Opens a raw control-link connection, sends `frames`, returns the error codes received before it closed. */
function controlLinkExchange(frames: Buffer[]): Promise<string[]> {
  return new Promise((resolve) => {
    const codes: string[] = [];
    const socket = net.connect(controlPort, "127.0.0.1");
    const parser = new FrameParser(
      {
        onFrame: (f) => f.type === FrameType.Error && codes.push(decodeFields(f.meta)[0] ?? ""),
        onOversized: () => undefined,
        onError: () => undefined,
      },
      { maxPayloadBytes: 1 << 20 },
    );
    const timer = setTimeout(() => socket.destroy(), 15_000);
    socket.on("data", (chunk: Buffer) => parser.push(chunk));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(codes);
    });
    socket.on("error", () => undefined);
    socket.on("connect", () => frames.forEach((f) => socket.write(f)));
  });
}

describe("control link", () => {
  it("drops a process that presents the wrong secret", async () => {
    const client = new PraaS(praas.url, { ca });
    await client.createProcess("crashy", "victim");
    const register = encodeFields(["crashy", "victim", "not-the-secret", "127.0.0.1", "1", "t"]);
    expect(await controlLinkExchange(encodeFrame(FrameType.Register, 1, register))).toEqual([
      "UNAUTHORIZED",
    ]);
    expect((await client.getProcess("crashy", "victim")).status).toBe("active");
    await client.close();
  });

  it("drops garbage and unknown processes", async () => {
    expect(await controlLinkExchange([Buffer.from("GET / HTTP/1.1\r\n\r\n")])).toEqual([
      "PROTOCOL_ERROR",
    ]);
    const register = encodeFields(["crashy", "nobody", "x", "127.0.0.1", "1", "t"]);
    expect(await controlLinkExchange(encodeFrame(FrameType.Register, 1, register))).toEqual([
      "UNAUTHORIZED",
    ]);
  });
});

describe("failure detection", () => {
  it("marks a process that died as failed, brings it back on its next use", async () => {
    const client = new PraaS(praas.url, { ca });
    const proc = await client.createProcess("crashy", "doomed");
    const conn = await proc.connect();
    const pid = Number(Buffer.from(await conn.invoke("parentPid")).toString("utf8"));
    const closed = expect(conn.invoke("hang")).rejects.toMatchObject({ code: "CONNECTION_CLOSED" });
    process.kill(pid, "SIGKILL");
    await closed;
    const deadline = Date.now() + 10_000;
    let status = "active";
    while (status !== "failed" && Date.now() < deadline) {
      status = (await client.getProcess("crashy", "doomed")).status;
      if (status !== "failed") await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe("failed");
    expect((await client.listProcesses("crashy")).failed.map((p) => p.name)).toEqual(["doomed"]);
    // Its next use brings it back (never swapped: empty), and it tells what happened.
    const pong = await client.invoke("crashy", "ping", "", { process: "doomed" });
    expect(Buffer.from(pong).toString()).toBe("pong");
    const back = await client.getProcess("crashy", "doomed");
    expect(back.status).toBe("active");
    expect(back.info.lastFailure?.reason).toMatch(/exited unexpectedly|control link lost/);
    await client.deleteProcess("crashy", "doomed");
    await client.close();
  });
});
