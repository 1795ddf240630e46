// Mailbox messages are authenticated as the sending process: a data-plane connection acts as a
// peer only with the application's peer secret, and posts only under the name it gave in HELLO.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FrameType, encodeFields, type PraaSError } from "../../src/protocol/index.js";
import type { ProcessConnection } from "../../src/sdk/index.js";
import { connectFrameLink, type FrameLink } from "../../src/transport/index.js";
import {
  bundleFixture,
  makeTempDir,
  rejection,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";

const PEER_SECRET = "the-suite-peer-secret";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let proc: RunningProcess;
let conn: ProcessConnection;

beforeAll(async () => {
  temp = await makeTempDir("peer-auth");
  const bundle = await bundleFixture("runtime-suite", temp.dir);
  proc = await startProcess({ name: "p0", bundle, blobDir: temp.dir, peerSecret: PEER_SECRET });
  conn = await proc.connect();
});

afterAll(async () => {
  await conn?.close();
  await proc?.stop();
  await temp?.remove();
});

function dialAsPeer(name: string, peerSecret?: string): Promise<{ link: FrameLink }> {
  return connectFrameLink({
    host: proc.host,
    port: proc.port,
    token: proc.token,
    role: "peer",
    name,
    ...(peerSecret === undefined ? {} : { peerSecret }),
  });
}

function peerPut(link: FrameLink, key: string, source: string, value: string): Promise<unknown> {
  return link.request(FrameType.PeerPut, encodeFields([key, source]), Buffer.from(value));
}

async function received(from: string, key: string): Promise<string> {
  const request = JSON.stringify({ from, key, timeoutMs: 2000 });
  return text(await conn.invoke("receive", request));
}

describe("peer handshake", () => {
  it.each([
    ["no peer secret (a client holding the token)", "p9", undefined, "UNAUTHORIZED"],
    ["a wrong peer secret", "p9", "not-the-secret", "UNAUTHORIZED"],
    ["an invalid process name", "ANY", PEER_SECRET, "INVALID_NAME"],
  ])("refuses a peer with %s", async (_what, name, secret, code) => {
    const error: PraaSError = await rejection(dialAsPeer(name, secret));
    expect(error.code).toBe(code);
  });
});

describe("PEER_PUT", () => {
  it("delivers under the sender's own name and refuses any other", async () => {
    const { link } = await dialAsPeer("p9", PEER_SECRET);
    try {
      await peerPut(link, "greeting", "p9", "hello from p9");
      expect(await received("p9", "greeting")).toBe("hello from p9");
      const spoofed: PraaSError = await rejection(peerPut(link, "greeting", "p8", "I am p8"));
      expect(spoofed.code).toBe("UNAUTHORIZED");
      expect(await received("p8", "greeting")).toBe("error:TIMEOUT");
    } finally {
      link.destroy();
    }
  });

  it("refuses an invalid key", async () => {
    const { link } = await dialAsPeer("p9", PEER_SECRET);
    try {
      const error: PraaSError = await rejection(peerPut(link, "", "p9", "x"));
      expect(error.code).toBe("INVALID_NAME");
    } finally {
      link.destroy();
    }
  });
});
