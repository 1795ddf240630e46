// A worker answering a client connection the process handed over, in-process: WELCOME, calls
// and their notices to the process, the checks the process would make, timeouts, serialized
// calls sent through the process. (Real workers run under Node's permission model, where V8
// coverage is off; test/runtime/direct-handoff.test.ts covers them end to end.)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { PraaSError } from "../../src/protocol/index.js";
import {
  FrameType,
  decodeFields,
  encodeFields,
  invocationIdOf,
  readCallEnds,
  readCallStarts,
  type CallEndRecord,
  type CallStartRecord,
  type Frame,
} from "../../src/protocol/index.js";
import { WorkerServer, type WorkerOptions } from "../../src/runtime/worker/serve.js";
import type { HandOff } from "../../src/runtime/worker/direct.js";
import { FrameLink } from "../../src/transport/index.js";
import { socketPair } from "../helpers/socket-pair.js";

const dir = mkdtempSync(path.join(tmpdir(), "worker-direct-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bundle = path.join(dir, "app.mjs");
writeFileSync(
  bundle,
  `export function echo(input) { return input; }
export function fail() { throw new RangeError("nope"); }
export function slow() { return new Promise((resolve) => setTimeout(() => resolve("late"), 300)); }
export function gated(input) { return input; }
export async function viaLocal(input, ctx) { return ctx.invoke("echo", input); }
export async function localOutcome(input, ctx) {
  try { await ctx.invoke(new TextDecoder().decode(input), "x"); return "ok"; } catch (e) { return e.code; }
}
export async function putTo(input, ctx) {
  try { await ctx.put(new TextDecoder().decode(input), "k", "v"); return "ok"; } catch (e) { return e.code; }
}
export async function toPeer(input, ctx) {
  await ctx.put("p2", "k", input);
  return ctx.invoke("echo", input, { process: "p2" });
}`,
);

const LIMITS = {
  maxPayloadBytes: 1 << 20,
  maxInflight: 64,
  maxInflightPerConnection: 8,
  maxInflightBytesPerConnection: 1 << 20,
  writeBacklogBytes: 1 << 20,
  invocationTimeoutMs: 10_000,
};

/** The process's end of the worker link: what it was told, and answers to forwarded calls. */
interface Side {
  link: FrameLink;
  notices: Frame[];
  worker: WorkerServer;
}

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

const LOCAL = { serialize: ["gated"], errorStacks: false, maxInflight: 2, invocationTimeoutMs: 50 };

async function startWorker(askProcess?: WorkerOptions["askProcess"]): Promise<Side> {
  const [workerSocket, processSocket] = await socketPair(closers);
  const notices: Frame[] = [];
  const link: FrameLink = new FrameLink(processSocket, {
    maxPayloadBytes: 1 << 20,
    onRequest: (frame) => {
      if (frame.type === FrameType.Call)
        link.reply(frame.id, Buffer.concat([Buffer.from("via process:"), frame.payload]));
      else if (frame.type === FrameType.MailPut) link.reply(frame.id);
      else notices.push(frame);
    },
  });
  const worker = new WorkerServer({
    socket: workerSocket,
    bundlePath: bundle,
    application: "app",
    processId: "p1",
    maxPayloadBytes: 1 << 20,
    cacheBytes: 1 << 20,
    exit: () => undefined,
    ...(askProcess ? { askProcess } : {}),
  });
  // As the process does: LOAD with the settings for calls the worker runs itself.
  link.send(
    FrameType.Load,
    0,
    encodeFields(["app", "p1", "memory", JSON.stringify(LOCAL)]),
    Buffer.from("{}"),
  );
  const side = { link, notices, worker };
  await framesOf(side, FrameType.Ready);
  return side;
}

const HAND_OFF: HandOff = {
  kind: "praas-connection",
  connection: 7,
  rest: "",
  serialize: false,
  free: Number.MAX_SAFE_INTEGER,
  errorStacks: false,
  limits: LIMITS,
};

/** Hands the worker a connection (the process answered HELLO); the client's end. */
async function connectClient(
  side: Side,
  limits = LIMITS,
  serialize: HandOff["serialize"] = false,
): Promise<FrameLink> {
  const [clientSocket, workerEnd] = await socketPair(closers);
  side.worker.adopt({ ...HAND_OFF, serialize, limits }, workerEnd);
  return new FrameLink(clientSocket, { maxPayloadBytes: 1 << 20, onRequest: () => undefined });
}

async function call(client: FrameLink, fn: string, payload = "x"): Promise<string> {
  const reply = await client.request(FrameType.Invoke, encodeFields([fn]), Buffer.from(payload));
  return reply.payload.toString();
}

async function callError(client: FrameLink, fn: string, payload = "x"): Promise<PraaSError> {
  return call(client, fn, payload).then(
    () => Promise.reject(new Error(`${fn} succeeded`)),
    (error: PraaSError) => error,
  );
}

/** Waits, with a bound, until the process was told `count` frames of `type`. */
async function framesOf(side: Side, type: FrameType, count = 1): Promise<Frame[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = side.notices.filter((frame) => frame.type === type);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`no frame of type ${type}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The call starts the process was told of, once `count` CallStarted frames came. */
async function startsOf(side: Side, count = 1): Promise<CallStartRecord[]> {
  const records: CallStartRecord[] = [];
  for (const frame of await framesOf(side, FrameType.CallStarted, count))
    readCallStarts(frame.payload, (record) => records.push(record));
  return records;
}

/** The call ends the process was told of, once a CallEnded frame came. */
async function endsOf(side: Side): Promise<CallEndRecord[]> {
  const records: CallEndRecord[] = [];
  for (const frame of await framesOf(side, FrameType.CallEnded))
    readCallEnds(frame.payload, (record) => records.push(record));
  return records;
}

describe("a worker's direct connections", () => {
  it("answers calls itself and tells the process each call's start and end", async () => {
    const side = await startWorker();
    const client = await connectClient(side);
    expect(await call(client, "echo", "hello")).toBe("hello");
    const [started] = await startsOf(side);
    expect(started).toEqual({
      connection: 7,
      requestId: 1,
      fn: "echo",
      invocation: 1,
      forwarded: false,
    });
    expect(invocationIdOf("p1", process.pid, 1)).toBe(`p1-w${process.pid}-1`);
    const [ended] = await endsOf(side);
    expect(ended).toMatchObject({ connection: 7, requestId: 1, error: undefined });
    expect(ended?.seconds).toBeGreaterThanOrEqual(0);
  });

  it("answers a function's throw with FUNCTION_ERROR, without its stack, and reports it ended so", async () => {
    const side = await startWorker();
    const client = await connectClient(side);
    const error = await callError(client, "fail");
    expect(error.code).toBe("FUNCTION_ERROR");
    expect(error.functionStack).toBeUndefined();
    const [ended] = await endsOf(side);
    expect(ended?.error?.code).toBe("FUNCTION_ERROR");
  });

  it("makes the process's checks: unknown function, draining, per-connection cap", async () => {
    const side = await startWorker();
    const client = await connectClient(side, { ...LIMITS, maxInflightPerConnection: 1 });
    expect((await callError(client, "nope")).code).toBe("FUNCTION_NOT_FOUND");
    const slow = call(client, "slow");
    expect((await callError(client, "echo")).code).toBe("TOO_MANY_REQUESTS");
    expect(await slow).toBe("late");
    await side.link.request(FrameType.Drain, encodeFields(["on"]));
    expect((await callError(client, "echo")).code).toBe("UNAVAILABLE");
    await side.link.request(FrameType.Drain, encodeFields(["off"]));
    expect(await call(client, "echo", "back")).toBe("back");
  });

  it("stopping: says the connection is going away, refuses new calls, answers PING after the calls before it", async () => {
    const side = await startWorker();
    const [clientSocket, workerEnd] = await socketPair(closers);
    side.worker.adopt({ ...HAND_OFF, limits: LIMITS }, workerEnd);
    const notices: string[] = [];
    const client = new FrameLink(clientSocket, {
      maxPayloadBytes: 1 << 20,
      onRequest: (frame) => notices.push(`${frame.type}/${frame.id}`),
    });
    const order: string[] = [];
    // Both settle straight from the frames they got, so their order is the order of the frames.
    const slow = client
      .request(FrameType.Invoke, encodeFields(["slow"]), Buffer.from("x"))
      .then((reply) => order.push(`slow:${reply.payload.toString()}`));
    await startsOf(side);
    const stopped = side.worker.stop();
    await expect.poll(() => notices, { timeout: 5000 }).toEqual([`${FrameType.Error}/0`]);
    expect((await callError(client, "echo")).code).toBe("UNAVAILABLE");
    await client.request(FrameType.Ping).then(() => order.push("ping"));
    await slow;
    expect(order).toEqual(["slow:late", "ping"]);
    client.close();
    await stopped;
  });

  it("answers TIMEOUT at the deadline while the function runs on", async () => {
    const side = await startWorker();
    const client = await connectClient(side, { ...LIMITS, invocationTimeoutMs: 50 });
    expect((await callError(client, "slow")).code).toBe("TIMEOUT");
    const [ended] = await endsOf(side);
    expect(ended?.error?.code).toBe("TIMEOUT");
  });

  it("sends calls of serialized functions through the process (its input gate)", async () => {
    const side = await startWorker();
    const client = await connectClient(side, LIMITS, ["gated"]);
    expect(await call(client, "gated", "in order")).toBe("via process:in order");
    const [started] = await startsOf(side);
    expect(started).toMatchObject({ fn: "gated", invocation: 0, forwarded: true });
    expect(await call(client, "echo", "direct")).toBe("direct");
  });

  it("refuses a message from a client, and tells the process when the connection closes", async () => {
    const side = await startWorker();
    const client = await connectClient(side);
    const refused = client
      .request(FrameType.PeerPut, encodeFields(["k", "me"]), Buffer.from("v"))
      .then(
        () => undefined,
        (error: PraaSError) => error,
      );
    expect((await refused)?.code).toMatch(/PROTOCOL_ERROR|CONNECTION_CLOSED/);
    client.destroy();
    const [closed] = await framesOf(side, FrameType.ConnectionClosed);
    expect(decodeFields(closed?.meta ?? Buffer.alloc(0))).toEqual(["7"]);
  });

  it("runs ctx.invoke of its own functions itself, tells the process, and keeps the limits", async () => {
    const side = await startWorker();
    const client = await connectClient(side);
    expect(await call(client, "viaLocal", "here")).toBe("here");
    const started = await startsOf(side, 2);
    expect(started.map((record) => record.connection)).toContain(0); // the local call's
    expect(await call(client, "localOutcome", "fail")).toBe("FUNCTION_ERROR");
    expect(await call(client, "localOutcome", "slow")).toBe("TIMEOUT");
    expect(await call(client, "localOutcome", "localOutcome")).toBe("TOO_MANY_REQUESTS");
    expect(await call(client, "localOutcome", "gated")).toBe("ok"); // through the process
  });

  it("sends to a peer on the connection its process hands over, and drops it when the peer moves", async () => {
    const peer = net.createServer((socket) => {
      const link: FrameLink = new FrameLink(socket, {
        maxPayloadBytes: 1 << 20,
        onRequest: (frame) =>
          link.reply(frame.id, Buffer.concat([Buffer.from("peer:"), frame.payload])),
      });
    });
    await new Promise<void>((resolve) => peer.listen(0, "127.0.0.1", resolve));
    closers.push(() => peer.close());
    const asked: string[] = [];
    let throughProcess = false;
    const side: Side = await startWorker((request) => {
      asked.push(request.peer);
      if (request.peer === "ghost") {
        const error = { code: "PROCESS_NOT_FOUND" as const, message: "no ghost" };
        side.worker.peerLinkAnswered({ kind: "praas-peer", id: request.id, error });
        return;
      }
      if (throughProcess) {
        side.worker.peerLinkAnswered({ kind: "praas-peer", id: request.id, throughProcess: true });
        return;
      }
      const socket = net.connect((peer.address() as net.AddressInfo).port, "127.0.0.1", () =>
        side.worker.peerLinkAnswered({ kind: "praas-peer", id: request.id, rest: "" }, socket),
      );
    });
    const client = await connectClient(side);
    expect(await call(client, "toPeer", "hi")).toBe("peer:hi");
    expect(asked).toEqual(["p2"]); // one connection, shared by the put and the call
    side.worker.peerMoved("p2");
    throughProcess = true;
    expect(await call(client, "toPeer", "again")).toBe("via process:again");
    expect(asked).toEqual(["p2", "p2"]);
    expect(await call(client, "putTo", "ghost")).toBe("PROCESS_NOT_FOUND");
    // An answer nobody waits for (a worker restarted meanwhile): its socket is let go.
    const stray = net.connect((peer.address() as net.AddressInfo).port, "127.0.0.1");
    side.worker.peerLinkAnswered({ kind: "praas-peer", id: 999 }, stray);
    expect(stray.destroyed).toBe(true);
  });
});
