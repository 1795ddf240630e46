/**
 * Fuzzed frames against the data plane of the live processes and the control plane's control
 * link, over many short connections: from well-formed-but-wrong frames (valid header, wrong
 * types, ids, metadata, after a valid or an invalid HELLO/REGISTER) to random bytes. Paced to
 * reach the frame target by the deadline; what the servers answer is only counted, the
 * soak's invariants (nothing crashes, the load goes on) are the verdict.
 */
import { randomBytes, randomInt } from "node:crypto";
import net from "node:net";
import { FrameType, HELLO_MAGIC, PROTOCOL_VERSION, encodeFrame } from "../protocol/frame.js";
import { encodeFields } from "../protocol/fields.js";
import { sleep, type Stopper } from "./load.js";

export interface FuzzTarget {
  link: "data-plane" | "control-link";
  host: string;
  port: number;
  /** Data plane: the process's token, for sessions that get past HELLO. */
  token?: string;
}

export interface FuzzStats {
  frames: number;
  connections: number;
  /** Sessions the server ended (closed or reset) before the fuzzer did. */
  closedByServer: number;
  /** Connections refused (the target was down, e.g. during a restart). */
  refused: number;
  bytesReceived: number;
  framesByLink: Record<FuzzTarget["link"], number>;
}

export function emptyFuzzStats(): FuzzStats {
  return {
    frames: 0,
    connections: 0,
    closedByServer: 0,
    refused: 0,
    bytesReceived: 0,
    framesByLink: { "data-plane": 0, "control-link": 0 },
  };
}

export interface FuzzOptions {
  targetFrames: number;
  startedAt: number;
  durationMs: number;
  parallel: number;
}

const MAX_BATCH = 1_500;
const SESSION_BOUND_MS = 2_000;
const IDLE_MS = 150;

export function runFuzz(
  targets: () => FuzzTarget[],
  stats: FuzzStats,
  options: FuzzOptions,
  stop: Stopper,
): Promise<unknown> {
  const loops = Array.from({ length: options.parallel }, () =>
    fuzzLoop(targets, stats, options, stop),
  );
  return Promise.all(loops);
}

async function fuzzLoop(
  targets: () => FuzzTarget[],
  stats: FuzzStats,
  options: FuzzOptions,
  stop: Stopper,
): Promise<void> {
  while (!stop.stopped) {
    const available = targets();
    if (available.length === 0 || aheadOfSchedule(stats, options)) {
      await sleep(50);
      continue;
    }
    await session(available[randomInt(available.length)]!, stats);
  }
}

/** Past the deadline the target must still be met: only then does it stop pacing. */
function aheadOfSchedule(stats: FuzzStats, options: FuzzOptions): boolean {
  const elapsed = Math.min(1, (Date.now() - options.startedAt) / options.durationMs);
  return stats.frames >= options.targetFrames * elapsed + MAX_BATCH;
}

async function session(target: FuzzTarget, stats: FuzzStats): Promise<void> {
  const frames = target.link === "data-plane" ? dataPlaneSession(target) : controlLinkSession();
  const socket = net.connect(target.port, target.host);
  stats.connections++;
  const outcome = await new Promise<"closed" | "refused" | "ours">((resolve) => {
    let idle: NodeJS.Timeout | undefined;
    const finish = (how: "closed" | "refused" | "ours") => {
      clearTimeout(idle);
      clearTimeout(bound);
      resolve(how);
    };
    const bound = setTimeout(() => finish("ours"), SESSION_BOUND_MS);
    const rearm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => finish("ours"), IDLE_MS);
    };
    socket.once("connect", () => {
      socket.write(Buffer.concat(frames));
      stats.frames += frames.length;
      stats.framesByLink[target.link] += frames.length;
      rearm();
    });
    socket.on("data", (chunk: Buffer) => {
      stats.bytesReceived += chunk.length;
      rearm();
    });
    socket.once("error", (error: NodeJS.ErrnoException) =>
      finish(error.code === "ECONNREFUSED" ? "refused" : "closed"),
    );
    socket.once("close", () => finish("closed"));
  });
  socket.destroy();
  if (outcome === "closed") stats.closedByServer++;
  if (outcome === "refused") stats.refused++;
}

function pick<T>(items: readonly T[]): T {
  return items[randomInt(items.length)]!;
}

function frame(type: number, meta: Uint8Array = Buffer.alloc(0), payload?: Uint8Array): Buffer {
  return Buffer.concat(encodeFrame(type as FrameType, randomInt(2 ** 32), meta, payload));
}

function hello(token: string): Buffer {
  const fields = [HELLO_MAGIC, String(PROTOCOL_VERSION), token, "client", "fuzz"];
  return frame(FrameType.Hello, encodeFields(fields));
}

/** A well-formed frame that is wrong where it arrives: type, metadata or function. */
function wrongFrame(): Buffer {
  switch (randomInt(16)) {
    case 0:
      return frame(FrameType.Invoke, encodeFields([`nope${randomInt(1e6)}`]), randomBytes(8));
    case 1:
      return frame(FrameType.Invoke); // no function name
    case 2:
      return frame(FrameType.Invoke, truncatedMeta(), randomBytes(4));
    case 3:
      return frame(pick([FrameType.Result, FrameType.Error, FrameType.Welcome, FrameType.Ready]));
    case 4:
      return frame(
        pick([FrameType.StateGet, FrameType.MailGet, FrameType.Command, FrameType.Register]),
        encodeFields(["k"]),
      );
    case 5:
      return frame(FrameType.PeerPut, encodeFields(["k", "someone"]), randomBytes(8));
    case 6:
      return frame(pick([0, 7, 99, 200, 255]), randomBytes(randomInt(0, 16)));
    case 7:
      return frame(FrameType.Invoke, encodeFields(["echo"]), randomBytes(randomInt(0, 64)));
    default:
      return frame(randomInt(256), randomBytes(randomInt(0, 32)), randomBytes(randomInt(0, 32)));
  }
}

/** Metadata whose length prefixes run past its end. */
function truncatedMeta(): Buffer {
  const meta = Buffer.alloc(4);
  meta.writeUInt16LE(1_000, 0);
  return meta;
}

function randomGarbage(): Buffer {
  return randomBytes(randomInt(1, 8_192));
}

/** One session's bytes as frames: a lead-in (or none) then a batch of one kind. */
function dataPlaneSession(target: FuzzTarget): Buffer[] {
  switch (randomInt(6)) {
    case 0:
      return [randomGarbage()];
    case 1:
      return [hello("wrong-token"), ...batch(wrongFrame, 50)];
    case 2:
      return batch(wrongFrame, 50); // nothing before HELLO but HELLO is accepted
    case 3:
      return [frame(FrameType.Hello, truncatedMeta())];
    default:
      return [hello(target.token ?? ""), ...batch(wrongFrame, MAX_BATCH)];
  }
}

function controlLinkSession(): Buffer[] {
  const register = encodeFields([
    "soak",
    `fuzz${randomInt(1e6)}`,
    "wrong-secret",
    "127.0.0.1",
    "1",
    "t",
  ]);
  switch (randomInt(4)) {
    case 0:
      return [randomGarbage()];
    case 1:
      return [frame(FrameType.Register, register), ...batch(wrongFrame, 200)];
    case 2:
      return [frame(FrameType.Register, truncatedMeta()), ...batch(wrongFrame, 50)];
    default:
      return batch(
        () => frame(pick([FrameType.Status, FrameType.Command, 99]), randomBytes(8)),
        200,
      );
  }
}

function batch(make: () => Buffer, max: number): Buffer[] {
  return Array.from({ length: randomInt(1, max + 1) }, make);
}
