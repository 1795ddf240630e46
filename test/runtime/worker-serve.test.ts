// A worker's side of its link, in-process: loading a bundle, running invocations, every context
// call as the process sees it, and how a worker reports failures and ends. (Real workers run
// under Node's permission model, where V8 coverage is off; the subprocess tests cover them
// end to end, this file covers their logic.)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  FrameType,
  REHEARSAL_FUNCTION,
  decodeFields,
  encodeFields,
  type Frame,
  PraaSError,
} from "../../src/protocol/index.js";
import { FrameLink, decodeErrorFrame } from "../../src/transport/index.js";
import { WorkerServer } from "../../src/runtime/worker/serve.js";
import { Mailbox } from "../../src/runtime/mailbox.js";
import { StateStore, type StateOp } from "../../src/runtime/state-store.js";
import { answerWorkerCall, type CallTarget } from "../../src/runtime/worker-calls.js";

const dir = mkdtempSync(path.join(tmpdir(), "worker-serve-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const APP = `
export const notAFunction = 1;
export function echo(input) { return input; }
export function fail() { throw new RangeError("nope"); }
export function big() { return "x".repeat(2000); }
export async function counter(_input, ctx) {
  const now = Number(Buffer.from((await ctx.state.get("n")) ?? "0").toString()) + 1;
  await ctx.state.put("n", String(now));
  return String(now);
}
export async function readTwice(_input, ctx) {
  await ctx.state.get("k");
  return (await ctx.state.get("k")) ?? "absent";
}
export async function remove(_input, ctx) { return String(await ctx.state.delete("k")); }
export async function keys(_input, ctx) { return JSON.stringify(await ctx.state.keys()); }
export async function mail(_input, ctx) {
  await ctx.put("peer", "greeting", "hi");
  return ctx.get("peer", "reply", { timeoutMs: 50 });
}
export async function badMail(_input, ctx) { await ctx.put("ANY", "k", "v"); }
export async function badTimeout(_input, ctx) { await ctx.get("peer", "k", { timeoutMs: -1 }); }
export async function call(input, ctx) { return ctx.invoke("echo", input, { process: "other" }); }
export async function list(_input, ctx) { return JSON.stringify(await ctx.processes()); }
export async function tooBig(_input, ctx) { await ctx.state.put("k", "x".repeat(2000)); }
const text = (bytes) => (bytes === undefined ? undefined : Buffer.from(bytes).toString());
const args = (input) => JSON.parse(Buffer.from(input).toString());
export async function txCount(_input, ctx) {
  const n = await ctx.state.transaction(async (tx) => {
    const next = Number(text(await tx.get("n")) ?? "0") + 1;
    tx.put("n", String(next));
    return next;
  });
  return \`\${n}/\${text(await ctx.state.get("n"))}\`;
}
export async function txView(_input, ctx) {
  return ctx.state.transaction(async (tx) => {
    tx.put("a", "1");
    const a = text(await tx.get("a"));
    tx.delete("a");
    const gone = await tx.get("a");
    const [b1, b2] = await Promise.all([tx.get("b"), tx.get("b")]);
    return JSON.stringify({ a, gone: gone === undefined, b: [text(b1), text(b2)] });
  });
}
export async function txConflict(input, ctx) {
  const { maxAttempts, conflicts } = args(input);
  let attempts = 0;
  try {
    const result = await ctx.state.transaction(async (tx) => {
      attempts++;
      await tx.get("c");
      if (attempts <= conflicts) await ctx.state.put("c", \`plain-\${attempts}\`);
      tx.put("c", "tx");
      return "committed";
    }, { maxAttempts });
    return JSON.stringify({ attempts, result, c: text(await ctx.state.get("c")) });
  } catch (error) {
    return JSON.stringify({ attempts, code: error.code, message: error.message });
  }
}
export async function txStaleRead(_input, ctx) {
  const seen = [];
  const result = await ctx.state.transaction(async (tx) => {
    await tx.get("a");
    if (seen.length === 0) await ctx.state.put("a", "changed");
    try {
      await tx.get("b");
      seen.push("read");
    } catch (error) {
      seen.push(error.code);
      if (seen.length === 1) throw error;
    }
    return "done";
  });
  return JSON.stringify({ seen, result });
}
export async function txSwallow(_input, ctx) {
  let attempts = 0;
  await ctx.state.transaction(async (tx) => {
    attempts++;
    await tx.get("a");
    if (attempts === 1) await ctx.state.put("a", "x");
    await tx.get("b").catch(() => undefined);
  });
  return String(attempts);
}
export async function txAbort(_input, ctx) {
  await ctx.state.transaction((tx) => {
    tx.put("k", "x");
    throw new RangeError("changed my mind");
  });
}
export async function txLate(_input, ctx) {
  let saved;
  await ctx.state.transaction((tx) => { saved = tx; });
  saved.put("k", "v");
}
export async function txBadAttempts(_input, ctx) {
  await ctx.state.transaction(() => 1, { maxAttempts: 0 });
}
export async function txTooBig(input, ctx) {
  const { values } = args(input);
  await ctx.state.transaction((tx) => values.forEach((size, i) => tx.put(\`k\${i}\`, "x".repeat(size))));
}
export async function inc(input, ctx) {
  const { key, delta } = args(input);
  const value = delta === undefined ? await ctx.state.increment(key) : await ctx.state.increment(key, delta);
  return \`\${value}/\${text(await ctx.state.get(key))}\`;
}
export async function upd(input, ctx) {
  const { key, suffix } = args(input);
  const next = await ctx.state.update(key, (current) => suffix === null ? undefined : (text(current) ?? "") + suffix);
  return text(next) ?? "deleted";
}
export async function cas(input, ctx) {
  const { key, expected, next } = args(input);
  return String(await ctx.state.compareAndSet(key, expected ?? undefined, next ?? undefined));
}
export function info(_input, ctx) {
  return [ctx.application, ctx.processId, ctx.functionName, ctx.invocationId].join("/");
}
`;
const bundle = path.join(dir, "app.mjs");
writeFileSync(bundle, APP);
const broken = path.join(dir, "broken.mjs");
writeFileSync(broken, `throw new Error("cannot load");`);

/**
 * The process's end of a worker link, with a real state store and a log of requests.
 * Transaction frames are answered by the process's own handlers.
 */
class FakeProcess {
  readonly state = new StateStore();
  readonly changed: string[] = [];
  readonly persisted: StateOp[] = [];
  readonly #target: CallTarget = {
    name: "p1",
    state: this.state,
    mailbox: new Mailbox(this.state.quota),
    defaultGetTimeoutMs: 1000,
    invoke: () => Promise.reject(new PraaSError("INTERNAL", "not here")),
    sendToPeer: () => Promise.reject(new PraaSError("INTERNAL", "not here")),
    processes: () => ({ active: [], swapped: [] }),
    stateChanged: (key) => void this.changed.push(key),
    persist: (ops) => {
      this.persisted.push(...ops);
      return Promise.resolve();
    },
  };
  readonly requests: Frame[] = [];
  readonly exits: number[] = [];
  readonly errors: PraaSError[] = [];
  readonly ready: Promise<string[]>;
  /** When set, puts are not answered but their frames kept here (a durable process's log write). */
  heldPuts: Frame[] | undefined;
  link!: FrameLink;
  worker!: WorkerServer;
  #onReady!: (names: string[]) => void;

  constructor() {
    this.ready = new Promise((resolve) => (this.#onReady = resolve));
  }

  onRequest(frame: Frame): void {
    this.requests.push(frame);
    const [first = "", second = ""] = decodeFields(frame.meta);
    switch (frame.type) {
      case FrameType.Ready:
        this.#onReady(decodeFields(frame.meta));
        return;
      case FrameType.Error:
        this.errors.push(decodeErrorFrame(frame));
        return;
      case FrameType.StateGet: {
        const value = this.state.get(first);
        this.link.reply(frame.id, value, value === undefined ? ["absent"] : []);
        return;
      }
      case FrameType.StatePut:
        this.state.put(first, frame.payload);
        if (this.heldPuts) this.heldPuts.push(frame);
        else this.link.reply(frame.id);
        return;
      case FrameType.StateDelete:
        this.link.reply(frame.id, undefined, this.state.delete(first) ? ["deleted"] : []);
        return;
      case FrameType.StateKeys:
        this.link.reply(frame.id, json(this.state.keys().map(({ key }) => ({ key }))));
        return;
      case FrameType.TxRead:
      case FrameType.TxCommit:
      case FrameType.StateIncrement:
        answerWorkerCall(this.#target, frame, this.link);
        return;
      case FrameType.MailPut:
        this.link.reply(frame.id);
        return;
      case FrameType.MailGet:
        this.link.reply(frame.id, Buffer.from(`reply from ${first} to ${second}`), [first]);
        return;
      case FrameType.Call:
        this.link.reply(frame.id, Buffer.concat([Buffer.from(`${second}:`), frame.payload]));
        return;
      case FrameType.Processes:
        this.link.reply(frame.id, json({ active: ["p"], swapped: [] }));
        return;
      default:
        this.link.replyError(frame.id, new PraaSError("PROTOCOL_ERROR", "unexpected"));
    }
  }

  count(type: FrameType): number {
    return this.requests.filter((frame) => frame.type === type).length;
  }
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const open: FakeProcess[] = [];
afterEach(() => {
  for (const proc of open.splice(0)) proc.link.destroy();
});

/** A worker on one end of a loopback connection, the fake process on the other. */
async function start(bundlePath = bundle, durable = false, load = true): Promise<FakeProcess> {
  const proc = new FakeProcess();
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  const workerSocket = net.connect(port, "127.0.0.1");
  const processSocket = await accepted;
  server.close();
  proc.link = new FrameLink(processSocket, {
    maxPayloadBytes: 1024,
    onRequest: (frame) => proc.onRequest(frame),
  });
  proc.worker = new WorkerServer({
    socket: workerSocket,
    bundlePath,
    application: "app",
    processId: "p1",
    maxPayloadBytes: 1024,
    cacheBytes: 1 << 20,
    durable,
    exit: (code) => proc.exits.push(code),
  });
  open.push(proc);
  if (load) await proc.worker.load();
  return proc;
}

async function invoke(proc: FakeProcess, fn: string, payload = ""): Promise<string> {
  const frame = await proc.link.request(
    FrameType.Invoke,
    encodeFields([fn, "inv-1", ""]),
    Buffer.from(payload),
  );
  return frame.payload.toString();
}

async function invokeError(proc: FakeProcess, fn: string, payload = ""): Promise<PraaSError> {
  return invoke(proc, fn, payload).then(
    () => {
      throw new Error(`${fn} succeeded`);
    },
    (error: PraaSError) => error,
  );
}

/** Waits for a condition the worker reaches asynchronously, with a bound. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in 5 s");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("WorkerServer", () => {
  it("in a durable process, state.put resolves only once the process answered it", async () => {
    const proc = await start(bundle, true);
    proc.heldPuts = [];
    let answered = false;
    const result = invoke(proc, "counter").then((output) => {
      answered = true;
      return output;
    });
    await until(() => proc.heldPuts?.length === 1);
    // The worker answers pings in order: a put that did not wait would have answered first.
    await proc.link.request(FrameType.Ping, encodeFields([]));
    expect(answered).toBe(false);
    for (const put of proc.heldPuts.splice(0)) proc.link.reply(put.id);
    expect(await result).toBe("1");
  });

  it("before LOAD, a pinged worker has the rehearsal's function; LOAD takes it away", async () => {
    const proc = await start(bundle, false, false);
    await proc.link.request(FrameType.Ping, encodeFields([]));
    expect(await invoke(proc, REHEARSAL_FUNCTION, "rehearsed")).toBe("rehearsed");
    proc.link.send(FrameType.Load, 0, encodeFields(["app", "p1", "memory", ""]), json({}));
    expect(await proc.ready).not.toContain(REHEARSAL_FUNCTION);
    expect((await invokeError(proc, REHEARSAL_FUNCTION)).code).toBe("FUNCTION_NOT_FOUND");
    expect(await invoke(proc, "echo", "loaded")).toBe("loaded");
  });

  it("announces the bundle's functions, and only functions", async () => {
    const proc = await start();
    const names = await proc.ready;
    expect(names).toContain("echo");
    expect(names).not.toContain("notAFunction");
  });

  it("runs an invocation and passes the context's identity", async () => {
    const proc = await start();
    expect(await invoke(proc, "echo", "hello")).toBe("hello");
    expect(await invoke(proc, "info")).toBe("app/p1/info/inv-1");
  });

  it("answers unknown functions, thrown errors and oversized results with their codes", async () => {
    const proc = await start();
    expect((await invokeError(proc, "missing")).code).toBe("FUNCTION_NOT_FOUND");
    const thrown = await invokeError(proc, "fail");
    expect([thrown.code, thrown.message]).toEqual(["FUNCTION_ERROR", "nope"]);
    expect((await invokeError(proc, "big")).code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("answers a ping at once and refuses frames a worker does not serve", async () => {
    const proc = await start();
    const pong = await proc.link.request(FrameType.Ping, Buffer.alloc(0));
    expect(pong.type).toBe(FrameType.Result);
    const refused = await proc.link
      .request(FrameType.StateGet, encodeFields(["k"]))
      .catch((error: PraaSError) => error);
    expect((refused as PraaSError).code).toBe("PROTOCOL_ERROR");
  });

  it("keeps state in the process and reads its own writes", async () => {
    const proc = await start();
    expect(await invoke(proc, "counter")).toBe("1");
    expect(await invoke(proc, "counter")).toBe("2");
    expect(proc.state.get("n")?.toString()).toBe("2");
    expect(proc.count(FrameType.StateGet)).toBe(1); // the second read came from the cache
  });

  it("reads through to the process again after another worker changed the key", async () => {
    const proc = await start();
    proc.state.put("k", Buffer.from("v1"));
    expect(await invoke(proc, "readTwice")).toBe("v1");
    proc.state.put("k", Buffer.from("v2"));
    proc.link.send(FrameType.StateChanged, 0, encodeFields(["k"]));
    expect(await invoke(proc, "readTwice")).toBe("v2");
    expect(proc.count(FrameType.StateGet)).toBe(2);
  });

  it("deletes, lists keys and refuses a value above the payload cap", async () => {
    const proc = await start();
    proc.state.put("k", Buffer.from("v"));
    expect(await invoke(proc, "keys")).toBe(JSON.stringify([{ key: "k" }]));
    expect(await invoke(proc, "remove")).toBe("true");
    expect(await invoke(proc, "remove")).toBe("false");
    expect((await invokeError(proc, "tooBig")).code).toBe("PAYLOAD_TOO_LARGE");
    expect(proc.count(FrameType.StatePut)).toBe(0);
  });

  it("sends messages, remote calls and listings to the process", async () => {
    const proc = await start();
    expect(await invoke(proc, "mail")).toBe("reply from peer to reply");
    expect(await invoke(proc, "call", "x")).toBe("other:x");
    expect(JSON.parse(await invoke(proc, "list"))).toEqual({ active: ["p"], swapped: [] });
  });

  it("refuses bad peer names and timeouts before asking the process", async () => {
    const proc = await start();
    expect((await invokeError(proc, "badMail")).code).toBe("BAD_REQUEST");
    expect((await invokeError(proc, "badTimeout")).code).toBe("BAD_REQUEST");
    expect(proc.count(FrameType.MailPut) + proc.count(FrameType.MailGet)).toBe(0);
  });

  it("commits a transaction's writes in one frame, caches them and makes them durable", async () => {
    const proc = await start();
    expect(await invoke(proc, "txCount")).toBe("1/1");
    expect(await invoke(proc, "txCount")).toBe("2/2");
    expect(proc.count(FrameType.TxCommit)).toBe(2);
    expect(proc.count(FrameType.StateGet)).toBe(0); // the committed value was cached
    expect(proc.changed).toEqual(["n", "n"]);
    expect(proc.persisted.map(({ key, value }) => `${key}=${String(value)}`)).toEqual([
      "n=1",
      "n=2",
    ]);
  });

  it("shows a transaction its own writes and reads each key from the process once", async () => {
    const proc = await start();
    proc.state.put("b", Buffer.from("B"));
    const view = JSON.parse(await invoke(proc, "txView")) as unknown;
    expect(view).toEqual({ a: "1", gone: true, b: ["B", "B"] });
    expect(proc.count(FrameType.TxRead)).toBe(1);
    expect(proc.state.get("a")).toBeUndefined();
  });

  it("retries a transaction whose read went stale, and gives up with CONFLICT", async () => {
    const proc = await start();
    const retried = await invoke(proc, "txConflict", '{"maxAttempts":10,"conflicts":2}');
    expect(JSON.parse(retried)).toEqual({ attempts: 3, result: "committed", c: "tx" });
    const reply = await invoke(proc, "txConflict", '{"maxAttempts":1,"conflicts":5}');
    const failed = JSON.parse(reply) as { message: string };
    expect(failed).toMatchObject({ attempts: 1, code: "CONFLICT" });
    expect(failed.message).toMatch(/gave up after 1 attempt: state key "c" changed/);
    expect(proc.state.get("c")?.toString()).toBe("plain-1");
  });

  it("refuses a read that does not fit the transaction's earlier reads", async () => {
    const proc = await start();
    const stale = JSON.parse(await invoke(proc, "txStaleRead")) as unknown;
    expect(stale).toEqual({ seen: ["CONFLICT", "read"], result: "done" });
    expect(await invoke(proc, "txSwallow")).toBe("2");
  });

  it("writes nothing for a body that throws, a late write or a bad option", async () => {
    const proc = await start();
    const aborted = await invokeError(proc, "txAbort");
    expect([aborted.code, aborted.errorName]).toEqual(["FUNCTION_ERROR", "RangeError"]);
    expect((await invokeError(proc, "txLate")).code).toBe("BAD_REQUEST");
    expect((await invokeError(proc, "txBadAttempts")).code).toBe("BAD_REQUEST");
    expect(proc.count(FrameType.TxCommit)).toBe(0);
    expect(proc.state.get("k")).toBeUndefined();
  });

  it("refuses a transaction value or commit above the payload cap", async () => {
    const proc = await start();
    const one = await invokeError(proc, "txTooBig", '{"values":[2000]}');
    const both = await invokeError(proc, "txTooBig", '{"values":[600,600]}');
    expect([one.code, both.code]).toEqual(["PAYLOAD_TOO_LARGE", "PAYLOAD_TOO_LARGE"]);
    expect(proc.count(FrameType.TxCommit)).toBe(0);
  });

  it("increments in one call to the process, as a decimal string", async () => {
    const proc = await start();
    expect(await invoke(proc, "inc", '{"key":"n"}')).toBe("1/1");
    expect(await invoke(proc, "inc", '{"key":"n","delta":-3.5}')).toBe("-2.5/-2.5");
    expect(proc.count(FrameType.StateIncrement)).toBe(2);
    expect(proc.count(FrameType.StateGet)).toBe(0);
    expect(proc.persisted.map(({ value }) => String(value))).toEqual(["1", "-2.5"]);
    proc.state.put("word", Buffer.from("abc"));
    expect((await invokeError(proc, "inc", '{"key":"word"}')).code).toBe("BAD_REQUEST");
    expect((await invokeError(proc, "inc", '{"key":"n","delta":"5"}')).code).toBe("BAD_REQUEST");
    expect((await invokeError(proc, "inc", '{"key":""}')).code).toBe("INVALID_NAME");
  });

  it("updates and compares-and-sets one key atomically", async () => {
    const proc = await start();
    expect(await invoke(proc, "upd", '{"key":"u","suffix":"a"}')).toBe("a");
    expect(await invoke(proc, "upd", '{"key":"u","suffix":"b"}')).toBe("ab");
    expect(await invoke(proc, "upd", '{"key":"u","suffix":null}')).toBe("deleted");
    expect(proc.state.get("u")).toBeUndefined();
    expect(await invoke(proc, "cas", '{"key":"s","expected":"x","next":"y"}')).toBe("false");
    expect(await invoke(proc, "cas", '{"key":"s","expected":null,"next":"x"}')).toBe("true");
    expect(await invoke(proc, "cas", '{"key":"s","expected":"x","next":"y"}')).toBe("true");
    expect(proc.state.get("s")?.toString()).toBe("y");
    expect(await invoke(proc, "cas", '{"key":"s","expected":"y","next":null}')).toBe("true");
    expect(proc.state.get("s")).toBeUndefined();
  });

  it("reports a bundle that fails to load, then exits with 1", async () => {
    const proc = await start(broken);
    await until(() => proc.errors.length > 0 && proc.exits.length > 0);
    expect(proc.errors[0]?.code).toBe("BUILD_FAILED");
    expect(proc.errors[0]?.message).toContain("cannot load");
    expect(proc.exits[0]).toBe(1);
  });

  it("reports an uncaught error as a crash, then exits with 1", async () => {
    const proc = await start();
    await proc.ready;
    proc.worker.crash(new TypeError("from a timer"));
    await until(() => proc.errors.length > 0 && proc.exits.length > 0);
    expect(proc.errors[0]?.code).toBe("WORKER_CRASHED");
    expect(proc.errors[0]?.message).toContain("TypeError: from a timer");
    expect(proc.exits[0]).toBe(1);
  });

  it("exits cleanly when the process closes the link", async () => {
    const proc = await start();
    await proc.ready;
    proc.link.close();
    await until(() => proc.exits.length > 0);
    expect(proc.exits).toEqual([0]);
  });
});
