// Call notices between a worker and its process, both sides in-process over a real socket:
// the worker's CallNotices writes them and wakes the process once; the process's NoticeReader
// reads them in sweeps, stops when the worker confirms it read everything, and reads at once
// whoever needs every notice (a swap's drain, a dead worker's connections).
import type net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  FrameType,
  decodeFields,
  readCallEnds,
  readCallStarts,
  type Frame,
} from "../../src/protocol/index.js";
import { NoticeReader } from "../../src/runtime/notice-reader.js";
import { CallNotices } from "../../src/runtime/worker/call-notices.js";
import { FrameLink } from "../../src/transport/index.js";
import { socketPair } from "../helpers/socket-pair.js";

const MAX = 1 << 20;
/** How long the process waits for the worker's answer to NoticesRead. */
const ASK_MS = 100;
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

interface Pair {
  notices: CallNotices;
  reader: NoticeReader;
  /** Call ids the process read, in order. */
  seen: string[];
  /** NoticesWaiting frames the process got. */
  wakes: number;
  /** What the worker does when asked NoticesRead (default: answers). */
  onAsked: (answer: () => void) => void;
  workerNoticeSocket: net.Socket;
}

/** A worker's notices and link, and the process's reader; `woken` off: wakes are only counted. */
async function pair(wake = true): Promise<Pair> {
  const [workerLinkSocket, processLinkSocket] = await socketPair(closers);
  const [workerNoticeSocket, processNoticeSocket] = await socketPair(closers);
  const state = { wakes: 0, seen: [] as string[] };
  const workerLink: FrameLink = new FrameLink(workerLinkSocket, {
    maxPayloadBytes: MAX,
    onRequest: (frame) => {
      if (frame.type !== FrameType.NoticesRead) return;
      result.onAsked(() => workerLink.reply(frame.id, undefined, [String(notices.caughtUp())]));
    },
  });
  const noticeLink = new FrameLink(workerNoticeSocket, {
    maxPayloadBytes: MAX,
    onRequest: () => undefined,
  });
  const notices = new CallNotices(workerLink, noticeLink);
  const processLink: FrameLink = new FrameLink(processLinkSocket, {
    maxPayloadBytes: MAX,
    onRequest: (frame) => {
      if (frame.type !== FrameType.NoticesWaiting) return;
      result.wakes++;
      if (wake) reader.woken();
    },
  });
  const reader = new NoticeReader(processNoticeSocket, {
    maxPayloadBytes: MAX,
    onNotice: (frame: Frame) => result.seen.push(...callIds(frame)),
    caughtUp: async () => {
      const reply = await processLink.request(FrameType.NoticesRead, undefined, undefined, ASK_MS);
      return Number(decodeFields(reply.meta)[0]);
    },
  });
  const result: Pair = {
    notices,
    reader,
    get seen() {
      return state.seen;
    },
    get wakes() {
      return state.wakes;
    },
    set wakes(n: number) {
      state.wakes = n;
    },
    onAsked: (answer) => answer(),
    workerNoticeSocket,
  };
  return result;
}

/** The request ids of a notice frame's calls. */
function callIds(frame: Frame): string[] {
  const ids: string[] = [];
  const each = ({ requestId }: { requestId: number }): number =>
    ids.push(`${frame.type}:${requestId}`);
  if (frame.type === FrameType.CallStarted) readCallStarts(frame.payload, each);
  else readCallEnds(frame.payload, each);
  return ids;
}

function start(notices: CallNotices, id: number): void {
  notices.started(1, id, "echo", id);
  notices.send();
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Lets the event loop turn `n` times (each turn polls every socket being read). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("call notices read in sweeps", () => {
  it("leaves notices in the kernel until the worker wakes the process once", async () => {
    const p = await pair(false);
    start(p.notices, 1);
    start(p.notices, 2);
    await until(() => p.wakes === 1, "the wake-up");
    await turns(20);
    expect(p.seen).toEqual([]);
    expect(p.wakes).toBe(1);
    p.reader.woken();
    await until(() => p.seen.length === 2, "both notices read");
    expect(p.seen).toEqual([`${FrameType.CallStarted}:1`, `${FrameType.CallStarted}:2`]);
  });

  it("stops sweeping once the worker confirms, and the next notice wakes it again", async () => {
    const p = await pair();
    start(p.notices, 1);
    await until(() => p.seen.length === 1, "the first notice read");
    await until(() => !p.reader.sweeping, "the sweeps stopped");
    start(p.notices, 2);
    await until(() => p.seen.length === 2, "the second notice read");
    expect(p.wakes).toBe(2);
  });

  it("sweeps on when a notice is written as the worker confirms (the wake follows the answer)", async () => {
    const p = await pair();
    start(p.notices, 1);
    await until(() => p.seen.length === 1, "the first notice read");
    let asked = 0;
    p.onAsked = (answer) => {
      answer();
      // In the same tick: its NoticesWaiting leaves in the same write, after the answer.
      if (++asked === 1) start(p.notices, 2);
    };
    await until(() => p.seen.length === 2, "the notice written as it confirmed");
    await until(() => !p.reader.sweeping, "the sweeps stopped");
  });

  it("sweeps on while the worker does not answer: a blocked worker's notices are still read", async () => {
    const p = await pair();
    let asked = 0;
    p.onAsked = () => void asked++;
    start(p.notices, 1);
    await until(() => p.seen.length === 1, "the first notice read");
    // Asked again: the first question went unanswered, and the sweeps went on.
    await until(() => asked >= 2, "a second question");
    // Never confirmed, so the worker sends no new wake-up: the sweeps must find this one.
    start(p.notices, 2);
    await until(() => p.seen.length === 2, "the notice after an unanswered question");
    expect(p.wakes).toBe(1);
    expect(p.reader.sweeping).toBe(true);
  });

  it("reads up to a count at once, without a wake-up", async () => {
    const p = await pair(false);
    for (let id = 1; id <= 3; id++) start(p.notices, id);
    await p.reader.readUpTo(p.notices.written);
    expect(p.seen).toHaveLength(3);
    expect(p.reader.read).toBe(3);
  });

  it("reads what a dead worker left, to the end", async () => {
    const p = await pair(false);
    start(p.notices, 1);
    p.notices.ended(1, 1, 0.001);
    p.notices.send();
    p.workerNoticeSocket.end();
    await p.reader.readToEnd(5000);
    expect(p.seen).toEqual([`${FrameType.CallStarted}:1`, `${FrameType.CallEnded}:1`]);
  });
});
