// Connections that never authenticate cannot lock token holders out of a process: a flood of
// idle and slow sockets on the data-plane port, kept up by reconnecting, while a client with the
// token connects and invokes.
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FrameType, HEADER_BYTES, writeHeader } from "../../src/protocol/index.js";
import type { ProcessConnection } from "../../src/sdk/index.js";
import {
  bundleFixture,
  makeTempDir,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";

const SMALL_CAP = 5;
/** More than the default `maxConnections` (1024); the machine's open-file limit is 20 000. */
const BIG_FLOOD = 1100;
/** Sockets dialled at once while a flood builds up (well under the listen backlog of 511). */
const WAVE = 100;
/** How long a flood may take to build up, or a client to be served (bounds, not waits). */
const BOUND_MS = 20_000;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let capped: RunningProcess;
let defaults: RunningProcess;

beforeAll(async () => {
  temp = await makeTempDir("dataplane-flood");
  const bundle = await bundleFixture("runtime-suite", temp.dir);
  const common = { bundle, blobDir: temp.dir, memory: 128 };
  [capped, defaults] = await Promise.all([
    startProcess({ ...common, name: "f1", args: ["--max-connections", String(SMALL_CAP)] }),
    startProcess({ ...common, name: "f2" }),
  ]);
});

afterAll(async () => {
  await Promise.all([capped?.stop(), defaults?.stop()]);
  await temp?.remove();
});

/**
 * Raw connections that never complete HELLO, kept at `count` in a thread of their own (an
 * attacker on another machine: its event loop does not slow the client under test). One the
 * process closes is dialled again at once, like an attacker who keeps reconnecting. By default
 * they send nothing; with `trickle` each sends the header of a HELLO frame whose payload is
 * under the pre-HELLO cap, then that payload 16 bytes every 50 ms: a slow sender the process
 * can neither finish reading nor call garbage. Plain JavaScript: it runs as is in the worker.
 */
const FLOOD_SOURCE = `
const net = require("node:net");
const { parentPort, workerData } = require("node:worker_threads");
const { host, port, count, wave, trickle } = workerData;
const sockets = new Set();
let open = 0;
let redials = 0;
let stopped = false;

function behave(socket) {
  if (trickle === undefined) return;
  socket.write(Buffer.from(trickle));
  const timer = setInterval(() => socket.write(Buffer.alloc(16, 0x41)), 50);
  socket.once("close", () => clearInterval(timer));
}

function dial() {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    sockets.add(socket);
    let connected = false;
    socket.once("connect", () => {
      connected = true;
      open++;
      behave(socket);
      resolve();
    });
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.once("close", () => {
      sockets.delete(socket);
      if (connected) open--;
      resolve();
      if (stopped) return;
      redials++;
      void dial();
    });
  });
}

async function start() {
  for (let dialled = 0; dialled < count; dialled += wave)
    await Promise.all(Array.from({ length: Math.min(wave, count - dialled) }, dial));
  parentPort.postMessage({ ready: true, open, redials });
}

parentPort.on("message", (command) => {
  if (command === "stop") {
    stopped = true;
    for (const socket of sockets) socket.destroy();
    parentPort.close();
    return;
  }
  parentPort.postMessage({ open, redials });
});
void start();
`;

function slowHelloHeader(): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  writeHeader(header, { type: FrameType.Hello, id: 1, metaLength: 0, payloadLength: 60_000 });
  return header;
}

interface FloodStats {
  /** Sockets connected and not closed yet, as the attacker's end sees them. */
  open: number;
  /** Sockets dialled again after the process closed them. */
  redials: number;
}

class Flood {
  readonly #worker: Worker;

  constructor(target: RunningProcess, count: number, trickle = false) {
    const workerData = {
      ...{ host: target.host, port: target.port, count, wave: WAVE },
      ...(trickle && { trickle: slowHelloHeader() }),
    };
    this.#worker = new Worker(FLOOD_SOURCE, { eval: true, workerData });
  }

  /** Resolves once all `count` sockets have connected. */
  ready(): Promise<FloodStats> {
    return this.#next();
  }

  stats(): Promise<FloodStats> {
    const reply = this.#next();
    this.#worker.postMessage("stats");
    return reply;
  }

  async stop(): Promise<void> {
    this.#worker.postMessage("stop");
    await once(this.#worker, "exit");
  }

  #next(): Promise<FloodStats> {
    const reply = once(this.#worker, "message", { signal: AbortSignal.timeout(BOUND_MS) });
    return reply.then(([stats]) => stats as FloodStats);
  }
}

/** Connects with the token and invokes while `flood` is up; answers the flood as it was then. */
async function servedDuring(target: RunningProcess, flood: Flood): Promise<FloodStats> {
  const conn = await target.connect();
  try {
    expect(text(await conn.invoke("echo", "through"))).toBe("through");
    return await flood.stats();
  } finally {
    await conn.close();
  }
}

/** Those who authenticate are still capped: connecting past `cap` is TOO_MANY_REQUESTS. */
async function expectCapHolds(target: RunningProcess, cap: number): Promise<void> {
  const opened: ProcessConnection[] = [];
  try {
    let refusal: unknown;
    // One more than the cap: a connection closed just before may not be counted out yet.
    for (let i = 0; i <= cap && refusal === undefined; i++) {
      refusal = await target.connect().then(
        (c) => void opened.push(c),
        (e: unknown) => e,
      );
    }
    expect(refusal).toMatchObject({ code: "TOO_MANY_REQUESTS" });
    expect((refusal as Error).message).toContain(`already has ${cap} open connections`);
  } finally {
    await Promise.all(opened.map((c) => c.close()));
  }
}

describe("a flood of unauthenticated connections", () => {
  it(
    "does not use up maxConnections: a token holder connects and invokes past 50 idle and 10 slow sockets",
    async () => {
      const floods = [new Flood(capped, 50), new Flood(capped, 10, true)];
      try {
        await Promise.all(floods.map((flood) => flood.ready()));
        const during = await servedDuring(capped, floods[0]!);
        expect(during.open).toBeGreaterThan(SMALL_CAP);
        await expectCapHolds(capped, SMALL_CAP);
      } finally {
        await Promise.all(floods.map((flood) => flood.stop()));
      }
    },
    BOUND_MS * 2,
  );

  it(
    `lets a token holder in past ${BIG_FLOOD} idle sockets that keep reconnecting (default limits)`,
    async () => {
      const flood = new Flood(defaults, BIG_FLOOD);
      try {
        const before = await flood.ready();
        const during = await servedDuring(defaults, flood);
        // The process closed the oldest to make room for newer ones, which came straight back:
        // the flood was still churning while the client was served.
        expect(during.redials).toBeGreaterThan(before.redials);
        expect(during.open).toBeGreaterThan(0);
      } finally {
        await flood.stop();
      }
    },
    BOUND_MS * 2,
  );
});
