// A process closing its data plane (swap, stop) with clients connected: each connection it
// serves itself is told it is going away, a call sent after that is refused as never run, a
// PING is answered only once the calls before it are, and the connection is closed by the
// client (or by us after the linger), never under a call in flight. Before, every connection
// was destroyed at once: a client with a call in flight got "read ECONNRESET".
import { afterEach, describe, expect, it } from "vitest";
import { FrameType, PraaSError, encodeFields, type Frame } from "../../src/protocol/index.js";
import { DataPlaneServer } from "../../src/runtime/dataplane-server.js";
import { connectFrameLink, type FrameLink } from "../../src/transport/index.js";

const OPTIONS = {
  application: "app",
  process: "p1",
  token: "t0ken",
  peerSecret: "",
  maxPayloadBytes: 1 << 20,
  maxConnections: 8,
  maxInflightPerConnection: 8,
  maxHelloBytes: 64 * 1024,
  writeBacklogBytes: 1 << 20,
  maxInflightBytesPerConnection: 1 << 20,
};

let server: DataPlaneServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const started = { slow: false };

/** A server whose `slow` call answers when the test says; `closing` refuses calls as the process does. */
async function start(): Promise<{ port: number; finishSlow: () => void; stopping: () => void }> {
  let finishSlow = (): void => undefined;
  let closing = false;
  server = new DataPlaneServer(OPTIONS, {
    invoke: (fn) => {
      if (closing) return Promise.reject(new PraaSError("UNAVAILABLE", "the process is stopping"));
      if (fn !== "slow") return Promise.resolve(Buffer.from("ok"));
      started.slow = true;
      return new Promise((resolve) => (finishSlow = () => resolve(Buffer.from("late"))));
    },
    deliver: () => undefined,
  });
  const port = await server.listen("127.0.0.1", 0);
  return { port, finishSlow: () => finishSlow(), stopping: () => void (closing = true) };
}

function invoke(link: FrameLink, fn: string): Promise<Frame> {
  return link.request(FrameType.Invoke, encodeFields([fn]), Buffer.from("x"));
}

describe("closing the data plane with clients connected", () => {
  it("says goodbye, refuses new calls, answers PING after the calls before it, then closes", async () => {
    const { port, finishSlow, stopping } = await start();
    const notices: Frame[] = [];
    const { link } = await connectFrameLink({
      host: "127.0.0.1",
      port,
      token: OPTIONS.token,
      onRequest: (frame) => notices.push(frame),
    });
    const order: string[] = [];
    const slow = invoke(link, "slow").then((reply) => order.push(reply.payload.toString()));
    await expect.poll(() => started.slow).toBe(true);
    stopping();
    const closed = server?.close(10_000);
    await expect
      .poll(() => notices.map((frame) => `${frame.type}/${frame.id}`))
      .toEqual([`${FrameType.Error}/0`]);
    const refused = await invoke(link, "echo").catch((error: PraaSError) => error.code);
    expect(refused).toBe("UNAVAILABLE");
    const ping = link.request(FrameType.Ping).then(() => order.push("ping"));
    finishSlow();
    await Promise.all([slow, ping]);
    expect(order).toEqual(["late", "ping"]);
    link.close();
    await closed; // within the test's 5 s, long before the 10 s linger: the client closed
    expect(server?.connections).toBe(0);
  });
});
