// Bad input on the data-plane port: the offending connection gets an error, the process serves on.
import { randomBytes } from "node:crypto";
import net from "node:net";
import { describe, expect, it } from "vitest";
import {
  FrameParser,
  FrameType,
  decodeFields,
  encodeFields,
  encodeFrame,
  helloFields,
  type Frame,
} from "../../src/protocol/index.js";
import { connect } from "../../src/sdk/index.js";
import { text, useSuiteProcess } from "../helpers/process-harness.js";

const suite = useSuiteProcess({ name: "g1", maxPayload: 1024 * 1024 });

const EXCHANGE_BOUND_MS = 15_000;

/**
 * Sends raw bytes and collects the frames the process answers with, until it closes the
 * connection or `enough(frames)` holds (bounded: a generous limit, not a window to wait out).
 */
function exchange(
  bytes: Buffer[],
  enough: (frames: Frame[]) => boolean = () => false,
): Promise<{ frames: Frame[]; closed: boolean }> {
  return new Promise((resolve) => {
    const frames: Frame[] = [];
    const socket = net.connect(suite.proc.port, suite.proc.host);
    const parser = new FrameParser(
      { onFrame: (f) => frames.push(f), onOversized: () => undefined, onError: () => undefined },
      { maxPayloadBytes: 1 << 30 },
    );
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ frames, closed });
    };
    const timer = setTimeout(() => finish(false), EXCHANGE_BOUND_MS);
    socket.on("data", (chunk: Buffer) => {
      parser.push(chunk);
      if (enough(frames)) finish(false);
    });
    socket.on("close", () => finish(true));
    socket.on("error", () => undefined);
    socket.on("connect", () => bytes.forEach((b) => socket.write(b)));
  });
}

const hello = (token: string): Buffer[] =>
  encodeFrame(FrameType.Hello, 1, encodeFields(helloFields({ token, role: "client", name: "" })));

async function stillServing(): Promise<void> {
  expect(text(await suite.conn.invoke("echo", "ok"))).toBe("ok");
}

describe("garbage on the data-plane port", () => {
  it("answers random bytes with a PROTOCOL_ERROR and closes that connection", async () => {
    // Random bytes after a first byte that cannot be the frame magic (0x50): always garbage.
    const garbage = Buffer.concat([Buffer.from("GARBAGE"), randomBytes(4089)]);
    const { frames, closed } = await exchange([garbage]);
    expect(closed).toBe(true);
    expect(frames[0]?.type).toBe(FrameType.Error);
    expect(decodeFields(frames[0]!.meta)[0]).toBe("PROTOCOL_ERROR");
    await stillServing();
  });

  it("refuses a wrong token with UNAUTHORIZED", async () => {
    const { frames, closed } = await exchange(hello("wrong"));
    expect(closed).toBe(true);
    expect(decodeFields(frames[0]!.meta)[0]).toBe("UNAUTHORIZED");
    await expect(
      connect({ host: suite.proc.host, port: suite.proc.port, token: "wrong" }),
    ).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
    await stillServing();
  });

  it("refuses an invocation before the handshake", async () => {
    const invoke = encodeFrame(FrameType.Invoke, 7, encodeFields(["echo"]), Buffer.from("x"));
    const { frames } = await exchange(invoke);
    expect(decodeFields(frames[0]!.meta)[0]).toBe("PROTOCOL_ERROR");
    await stillServing();
  });

  it("survives a truncated frame followed by a hang-up", async () => {
    const frame = Buffer.concat(
      encodeFrame(FrameType.Invoke, 2, encodeFields(["echo"]), randomBytes(1000)),
    );
    const socket = net.connect(suite.proc.port, suite.proc.host);
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.resume();
    socket.end(Buffer.concat([...hello(suite.proc.token), frame.subarray(0, 500)]));
    await new Promise((resolve) => socket.once("close", resolve));
    await stillServing();
  });

  it("rejects an oversized payload with PAYLOAD_TOO_LARGE and keeps the connection usable", async () => {
    const big = encodeFrame(
      FrameType.Invoke,
      2,
      encodeFields(["echo"]),
      Buffer.alloc(2 * 1024 * 1024, 1),
    );
    const small = encodeFrame(FrameType.Invoke, 3, encodeFields(["echo"]), Buffer.from("after"));
    const { frames } = await exchange(
      [...hello(suite.proc.token), ...big, ...small],
      (received) => received.length >= 3,
    );
    const [, tooLarge, after] = frames;
    expect(tooLarge?.id).toBe(2);
    expect(decodeFields(tooLarge!.meta)[0]).toBe("PAYLOAD_TOO_LARGE");
    expect(after?.id).toBe(3);
    expect(text(after!.payload)).toBe("after");
    await stillServing();
  });

  it("refuses a state value over the payload cap inside the function, storing nothing", async () => {
    const put = JSON.stringify({ op: "putBytes", key: "huge", value: String(2 * 1024 * 1024) });
    await expect(suite.conn.invoke("stateOps", put)).rejects.toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
    });
    const got = await suite.conn.invoke("stateOps", JSON.stringify({ op: "get", key: "huge" }));
    expect(JSON.parse(text(got))).toEqual({ value: null, size: null });
  });

  it("rejects an oversized payload from the SDK with a typed error", async () => {
    await expect(suite.conn.invoke("echo", Buffer.alloc(1024 * 1024 + 1))).rejects.toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
    });
    await stillServing();
  });

  it("answers an unsupported protocol version clearly", async () => {
    const meta = encodeFields(["praas", "99", suite.proc.token, "client", ""]);
    const { frames } = await exchange(encodeFrame(FrameType.Hello, 1, meta));
    expect(decodeFields(frames[0]!.meta)).toEqual(expect.arrayContaining(["PROTOCOL_ERROR"]));
    expect(decodeFields(frames[0]!.meta)[1]).toContain("unsupported protocol version 99");
    await stillServing();
  });
});
