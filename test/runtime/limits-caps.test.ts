// Every cap of a process answers with a clear error code, and the process serves on.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FrameParser,
  FrameType,
  HEADER_BYTES,
  decodeFields,
  storedEntryBytes,
  writeHeader,
  type Frame,
} from "../../src/protocol/index.js";
import type { ProcessConnection } from "../../src/sdk/index.js";
import {
  bundleFixture,
  makeTempDir,
  rejection,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";

const MAX_CONNECTIONS = 4;
let temp: Awaited<ReturnType<typeof makeTempDir>>;
let proc: RunningProcess;
let conn: ProcessConnection;

beforeAll(async () => {
  temp = await makeTempDir("limits-caps");
  const bundle = await bundleFixture("limits", temp.dir);
  proc = await startProcess({
    app: "limits",
    name: "c1",
    bundle,
    blobDir: temp.dir,
    memory: 128,
    args: [
      ["--max-inflight", "3"],
      ["--max-inflight-per-connection", "2"],
      ["--max-connections", String(MAX_CONNECTIONS)],
      ["--max-stored", String(1024 * 1024)],
    ].flat(),
  });
  conn = await proc.connect();
});

afterAll(async () => {
  await conn?.close();
  await proc?.stop();
  await temp?.remove();
});

const json = (value: object): string => JSON.stringify(value);

/** The first frame the process answers raw `bytes` with (bounded wait). */
function firstReply(bytes: Buffer): Promise<Frame | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(proc.port, proc.host, () => socket.write(bytes));
    const finish = (frame: Frame | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(frame);
    };
    const parser = new FrameParser(
      { onFrame: finish, onOversized: () => undefined, onError: () => finish(undefined) },
      { maxPayloadBytes: 1 << 20 },
    );
    const timer = setTimeout(() => finish(undefined), 5000);
    socket.on("data", (chunk: Buffer) => parser.push(chunk));
    socket.on("error", () => finish(undefined));
  });
}

/** The first frame the process answers raw `bytes` with, and when it closed the connection. */
function replyThenClose(bytes: Buffer): Promise<{ reply: Frame | undefined; closedMs: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    let reply: Frame | undefined;
    const socket = net.connect(proc.port, proc.host, () => socket.write(bytes));
    const parser = new FrameParser(
      { onFrame: (f) => (reply ??= f), onOversized: () => undefined, onError: () => undefined },
      { maxPayloadBytes: 1 << 20 },
    );
    const timer = setTimeout(() => socket.destroy(), 15_000); // a bound, past the HELLO deadline
    socket.on("data", (chunk: Buffer) => parser.push(chunk));
    socket.on("error", () => undefined);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve({ reply, closedMs: performance.now() - started });
    });
  });
}

describe("caps", () => {
  it("refuses invocations past the in-flight cap of a connection with TOO_MANY_REQUESTS", async () => {
    const running = [conn.invoke("sleep", "2000"), conn.invoke("sleep", "2000")];
    const error = await rejection(conn.invoke("echo", "one too many"));
    expect(error.code).toBe("TOO_MANY_REQUESTS");
    expect(error.message).toContain("this connection already has 2 invocations in flight");
    expect((await Promise.all(running)).map(text)).toEqual(["slept", "slept"]);
    expect(text(await conn.invoke("echo", "again"))).toBe("again");
  });

  it("refuses invocations past the in-flight cap of the process with TOO_MANY_REQUESTS", async () => {
    const other = await proc.connect();
    try {
      const running = [conn.invoke("sleep", "4000"), conn.invoke("sleep", "4000")];
      // Answered after the two calls before it were read: both are in flight now.
      expect((await rejection(conn.invoke("echo", "x"))).code).toBe("TOO_MANY_REQUESTS");
      running.push(other.invoke("sleep", "4000"));
      const error = await rejection(other.invoke("echo", "one too many"));
      expect(error.code).toBe("TOO_MANY_REQUESTS");
      expect(error.message).toContain("the process has 3 invocations in flight");
      await Promise.all(running);
      expect(text(await other.invoke("echo", "again"))).toBe("again");
    } finally {
      await other.close();
    }
  });

  it("answers a frame too large for a connection that has not said HELLO, without buffering it", async () => {
    const header = Buffer.alloc(HEADER_BYTES);
    writeHeader(header, { type: FrameType.Hello, id: 1, metaLength: 0, payloadLength: 1 << 24 });
    const reply = await firstReply(header);
    expect(reply?.type).toBe(FrameType.Error);
    const [code, message] = decodeFields(reply!.meta);
    expect(code).toBe("PAYLOAD_TOO_LARGE");
    expect(message).toContain("limit of 65536 bytes");
  });

  it("closes a connection that sent a frame too large before HELLO once the error is written", async () => {
    const header = Buffer.alloc(HEADER_BYTES);
    writeHeader(header, { type: FrameType.Hello, id: 1, metaLength: 0, payloadLength: 100e6 });
    const { reply, closedMs } = await replyThenClose(header);
    expect(reply?.type).toBe(FrameType.Error);
    expect(decodeFields(reply!.meta)[0]).toBe("PAYLOAD_TOO_LARGE");
    // Not left to the HELLO deadline (seconds): nothing it sends after that frame is read.
    expect(closedMs).toBeLessThan(2000);
  });

  it("refuses a state put over the storage budget with STATE_FULL in the function", async () => {
    expect(text(await conn.invoke("store", json({ key: "a", bytes: 600_000 })))).toBe("stored");
    const error = await rejection(conn.invoke("store", json({ key: "b", bytes: 600_000 })));
    expect(error.code).toBe("STATE_FULL");
    const mail = await rejection(conn.invoke("mail", json({ key: "m", bytes: 600_000 })));
    expect(mail.code).toBe("STATE_FULL");
    expect(text(await conn.invoke("drop", "a"))).toBe("true");
    expect(text(await conn.invoke("store", json({ key: "b", bytes: 600_000 })))).toBe("stored");
  });

  it("takes a put that fills the storage budget to the byte; one byte more is STATE_FULL", async () => {
    await Promise.all(["a", "b"].map((key) => conn.invoke("drop", key)));
    const store = (key: string, bytes: number) => conn.invoke("store", json({ key, bytes }));
    expect(text(await store("small", 500))).toBe("stored");
    // Every entry counts its key and a fixed overhead beside its value: "most" and "rest"
    // together fill the budget to the byte.
    const most = 1024 * 1024 - storedEntryBytes("rest", 1000) - storedEntryBytes("most", 0);
    expect(text(await store("most", most))).toBe("stored");
    // Frees less than the process's notice step: the worker's count is now that much low.
    expect(text(await conn.invoke("drop", "small"))).toBe("true");
    expect(text(await store("rest", 1000))).toBe("stored");
    expect((await rejection(store("over", 0))).code).toBe("STATE_FULL");
    await Promise.all(["most", "rest"].map((key) => conn.invoke("drop", key)));
  });

  it("refuses a get timeout a timer cannot wait with BAD_REQUEST", async () => {
    expect(text(await conn.invoke("waitFor", String(2 ** 31)))).toBe("BAD_REQUEST");
    expect(text(await conn.invoke("waitFor", "1.5"))).toBe("BAD_REQUEST");
    expect(text(await conn.invoke("waitFor", "1"))).toBe("TIMEOUT");
  });

  it("refuses connections past the cap with TOO_MANY_REQUESTS; open ones serve on", async () => {
    const opened: ProcessConnection[] = [];
    try {
      let refusal: unknown;
      for (let i = 0; i < MAX_CONNECTIONS && refusal === undefined; i++) {
        refusal = await proc.connect().then(
          (c) => void opened.push(c),
          (e: unknown) => e,
        );
      }
      expect(refusal).toMatchObject({ code: "TOO_MANY_REQUESTS" });
      expect((refusal as Error).message).toContain(
        `already has ${MAX_CONNECTIONS} open connections`,
      );
      expect(text(await conn.invoke("echo", "still"))).toBe("still");
    } finally {
      await Promise.all(opened.map((c) => c.close()));
    }
  });
});
