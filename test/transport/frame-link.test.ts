// FrameLink's coalesced acknowledgements: empty replies written in one tick leave as one Results
// frame (a committed batch of durable puts is acknowledged to a worker with one frame), in their
// place among the other frames, and every request they answer resolves.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { FrameParser, FrameType, type Frame } from "../../src/protocol/index.js";
import { FrameLink } from "../../src/transport/index.js";

interface Pair {
  /** The side that answers, with coalesceEmptyReplies. */
  server: FrameLink;
  client: FrameLink;
  /** Every frame the client's socket received, in order. */
  seen: Frame[];
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) cleanup();
});

/** A loopback connection; `answer` handles each request the server side gets. */
async function linkedPair(answer: (frame: Frame, link: FrameLink) => void): Promise<Pair> {
  const listener = net.createServer();
  cleanups.push(() => listener.close());
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once("connection", resolve));
  const { port } = listener.address() as net.AddressInfo;
  const socket = net.connect(port, "127.0.0.1");
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  const options = { maxPayloadBytes: 1 << 20, coalesceEmptyReplies: true, onRequest: answer };
  const server = new FrameLink(await accepted, options);
  const client = new FrameLink(socket, { maxPayloadBytes: 1 << 20, onRequest: () => {} });
  cleanups.push(
    () => client.destroy(),
    () => server.destroy(),
  );
  const seen: Frame[] = [];
  const parser = new FrameParser(
    { onFrame: (frame) => seen.push(frame), onOversized: () => {}, onError: () => {} },
    { maxPayloadBytes: 1 << 20 },
  );
  socket.on("data", (chunk: Buffer) => parser.push(chunk));
  return { server, client, seen };
}

const idsOf = (frame: Frame): number[] =>
  Array.from({ length: frame.payload.length / 4 }, (_, i) => frame.payload.readUInt32LE(i * 4));

describe("FrameLink with coalesceEmptyReplies", () => {
  it("answers the empty replies of one tick with one Results frame", async () => {
    const requests: Frame[] = [];
    const { client, seen } = await linkedPair((frame, link) => {
      requests.push(frame);
      // Answer once all have arrived, in one tick, like a committed batch of puts.
      if (requests.length === 64) for (const request of requests) link.reply(request.id);
    });
    const sent = Array.from({ length: 64 }, () => client.request(FrameType.StatePut));
    const replies = await Promise.all(sent);
    expect(replies.every((reply) => reply.type === FrameType.Result)).toBe(true);
    expect(replies.every((reply) => reply.payload.length === 0 && reply.meta.length === 0)).toBe(
      true,
    );
    expect(seen.map((frame) => frame.type)).toEqual([FrameType.Results]);
    expect(idsOf(seen[0] as Frame).sort((a, b) => a - b)).toEqual(
      replies.map((_, i) => i + 1).sort((a, b) => a - b),
    );
  });

  it("keeps the order of empty replies and other frames", async () => {
    const requests: Frame[] = [];
    const { client, seen } = await linkedPair((frame, link) => {
      requests.push(frame);
      if (requests.length < 4) return;
      const [a, b, c, d] = requests as [Frame, Frame, Frame, Frame];
      link.reply(a.id);
      link.reply(b.id);
      link.reply(c.id, Buffer.from("value"));
      link.send(FrameType.StateChanged, 0);
      link.reply(d.id);
    });
    const sent = Array.from({ length: 4 }, () => client.request(FrameType.StateGet));
    const values = (await Promise.all(sent)).map((reply) => reply.payload.toString());
    expect(values).toEqual(["", "", "value", ""]);
    const order = seen.map((frame) =>
      frame.type === FrameType.Results ? `acks ${idsOf(frame).join(",")}` : frame.type,
    );
    expect(order).toEqual(["acks 1,2", FrameType.Result, FrameType.StateChanged, "acks 4"]);
  });

  it("closes the link on a Results frame that does not list whole ids", async () => {
    const { server, client } = await linkedPair(() => {});
    const pending = client.request(FrameType.StatePut);
    const closed = new Promise<void>((resolve) => client.socket.once("close", () => resolve()));
    server.send(FrameType.Results, 0, undefined, Buffer.alloc(5));
    const failure = await pending.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: "PROTOCOL_ERROR" });
    expect(String((failure as Error).message)).toContain("whole u32 ids");
    await closed;
  });
});

describe("FrameLink on a socket closed before it was made", () => {
  // A child's pipe that Node drained and closed when the child exited, before anyone linked it.
  it("reports the close and refuses requests at once", async () => {
    const { server } = await linkedPair(() => {});
    const socket = server.socket;
    socket.destroy();
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
    let closes = 0;
    const onClose = (): void => void closes++;
    const late = new FrameLink(socket, { maxPayloadBytes: 1024, onRequest: () => {}, onClose });
    const failure = await late.request(FrameType.Ping, undefined, undefined, 60_000).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: "CONNECTION_CLOSED" });
    expect(late.closed).toBe(true);
    expect(closes).toBe(1);
  });
});
