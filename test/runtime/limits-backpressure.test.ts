// A client that pipelines invocations but never reads the results cannot make the process
// buffer them without bound: the process stops reading it, and serves everyone else.
import net from "node:net";
import { describe, expect, it } from "vitest";
import { FrameType, encodeFields, encodeFrame, helloFields } from "../../src/protocol/index.js";
import { text, useSuiteProcess } from "../helpers/process-harness.js";
import { MIB, sampleTreeRss, treeRss } from "../helpers/process-tree.js";

const suite = useSuiteProcess({ name: "b1", workers: 1 });

const PAYLOAD = Buffer.alloc(64 * 1024, 7);
/** 3000 × 64 KiB ≈ 190 MiB of results nobody reads. */
const INVOCATIONS = 3000;
/** How long the client's writes may stall before we conclude the process stopped reading. */
const STALL_MS = 2000;
/** Defaults: 16 MiB of payloads in flight (held about twice: process and worker) + 1 MiB unsent. */
const GROWTH_BOUND = 128 * MIB;

function connectRaw(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(suite.proc.port, suite.proc.host, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Waits for 'drain'; false when it does not come within STALL_MS. */
function drained(socket: net.Socket): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), STALL_MS);
    socket.once("drain", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** HELLO, then INVOKE echo frames, never reading; resolves how many went out before a stall. */
async function flood(socket: net.Socket): Promise<number> {
  const hello = helloFields({ token: suite.proc.token, role: "client", name: "" });
  for (const part of encodeFrame(FrameType.Hello, 1, encodeFields(hello))) socket.write(part);
  const meta = encodeFields(["echo"]);
  for (let id = 2; id < INVOCATIONS + 2; id++) {
    let ok = true;
    for (const part of encodeFrame(FrameType.Invoke, id, meta, PAYLOAD)) ok = socket.write(part);
    if (!ok && !(await drained(socket))) return id - 2;
  }
  return INVOCATIONS;
}

describe("backpressure on the data plane", () => {
  it("does not buffer the results of a client that never reads; serves another client meanwhile", async () => {
    const pid = suite.proc.child.pid as number;
    expect(text(await suite.conn.invoke("echo", "warm"))).toBe("warm");
    const before = treeRss(pid);
    const sampler = sampleTreeRss(pid);
    const socket = await connectRaw();
    socket.pause(); // never read
    try {
      const sent = await flood(socket);
      expect(text(await suite.conn.invoke("echo", "served"))).toBe("served");
      const peak = sampler.stop();
      console.log(
        `sent ${sent} of ${INVOCATIONS} invocations of 64 KiB; process tree resident ` +
          `${Math.round(before / MIB)} MiB before, ${Math.round(peak / MIB)} MiB at peak`,
      );
      expect(sent).toBeLessThan(INVOCATIONS);
      expect(peak - before).toBeLessThan(GROWTH_BOUND);
    } finally {
      sampler.stop();
      socket.destroy();
    }
  });
});
