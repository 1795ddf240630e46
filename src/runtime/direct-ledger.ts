/**
 * The process's side of the client connections it handed to one worker: a duplicate of each
 * socket, never read and written only once the worker is dead, and the calls in flight on them
 * as the worker reports them (CallStarted / CallEnded on its link). When the worker dies, every
 * call it left unanswered gets its error frame on that duplicate (why the worker died, or
 * TIMEOUT for a call past its deadline), then the connection closes and the SDK dials again.
 * A call the worker already answered may get a second, late reply: clients drop replies to ids
 * they no longer wait for.
 */
import type { Socket } from "node:net";
import { FrameType, PraaSError, decodeFields, type Frame } from "../protocol/index.js";
import { FrameLink, SharedDeadlines, reclaim } from "../transport/index.js";

/** How long the process answers, on a dead worker's connection, calls the worker never read. */
const LEFTOVER_MS = 10_000;

/**
 * Where a call the dead worker left was: never read (it never ran), running, or running past
 * its deadline.
 */
export type LeftCall = "unread" | "running" | "late";

/** The error for a call the dead worker left. */
export type Explain = (fn: string, call: LeftCall) => Promise<PraaSError>;

/** Which call: the process's number for its connection and the client's request id. */
export interface CallIds {
  connection: number;
  requestId: number;
}

/** What the worker said of a call when it started. */
export interface CallStart {
  fn: string;
  /** The worker's number for the invocation (its id: invocationIdOf). */
  invocation: number;
  /** Run through the process's pool (which counts it and enforces its deadline). */
  forwarded: boolean;
}

export interface DirectCall extends CallIds, CallStart {
  /** When the process learnt of it (performance.now()). */
  started: number;
  /** Its deadline passed while it ran. */
  late: boolean;
}

/**
 * Told once per call how it ended (no error: it succeeded) and, if the worker said, how long
 * it took. One function for every call, not a closure each: calls live until a sweep reads
 * their end, long enough that every object per call costs the process a garbage collection.
 */
export type DirectCallEnded = (call: DirectCall, error?: PraaSError, seconds?: number) => void;

interface Held {
  socket: Socket;
  /** Runs once we let go of the connection. */
  released: () => void;
}

export class DirectLedger {
  readonly #sockets = new Map<number, Held>();
  /** By connection, then request id: number keys, no string built per call. */
  readonly #calls = new Map<number, Map<number, DirectCall>>();
  readonly #deadlines = new SharedDeadlines<DirectCall>((call) => this.onLate(call));
  #counted = 0;

  /** `onLate`: a call's deadline passed while it ran. */
  constructor(
    readonly onLate: (call: DirectCall) => void = () => undefined,
    readonly onEnded: DirectCallEnded = () => undefined,
  ) {}

  /** Connections the worker holds. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Calls in flight on them that the worker runs itself (forwarded ones are the pool's). */
  get calls(): number {
    return this.#counted;
  }

  hold(connection: number, socket: Socket, released: () => void): void {
    socket.on("error", () => undefined);
    this.#sockets.set(connection, { socket, released });
  }

  /** A call the worker started; `timeoutMs`: its deadline, from now. */
  started(ids: CallIds, start: CallStart, timeoutMs?: number): DirectCall | undefined {
    const { connection, requestId } = ids;
    let calls = this.#calls.get(connection);
    if (calls?.has(requestId) === true) return undefined;
    const { fn, invocation, forwarded } = start;
    const started = performance.now();
    const call = { connection, requestId, fn, invocation, forwarded, started, late: false };
    if (calls === undefined) this.#calls.set(connection, (calls = new Map<number, DirectCall>()));
    calls.set(requestId, call);
    if (forwarded) return call;
    this.#counted++;
    if (timeoutMs === undefined) return call;
    this.#deadlines.add(call, timeoutMs);
    return call;
  }

  /** The worker answered the call (`error`: how it failed); true when it was counted. */
  ended({ connection, requestId }: CallIds, error?: PraaSError, seconds?: number): boolean {
    const calls = this.#calls.get(connection);
    const call = calls?.get(requestId);
    if (call === undefined) return false;
    calls?.delete(requestId);
    // A connection keeps its map while held (calls come and go); one let go of leaves no trace.
    if (calls?.size === 0 && !this.#sockets.has(connection)) this.#calls.delete(connection);
    this.#deadlines.delete(call);
    this.onEnded(call, error, seconds);
    if (call.forwarded) return false;
    this.#counted--;
    return true;
  }

  /** The worker let go of the connection: so do we (our descriptor only; the peer sees no FIN). */
  closed(connection: number): void {
    const held = this.#sockets.get(connection);
    if (held === undefined) return;
    this.#sockets.delete(connection);
    held.socket.destroy();
    held.released();
    if (this.#calls.get(connection)?.size === 0) this.#calls.delete(connection);
  }

  /**
   * The worker is dead: every call it started ends with `explain`'s error, written on its
   * connection while we still hold it; then each connection says it is going away, and for a
   * while answers the calls the worker never read the same way. Returns the counted calls.
   */
  async failAll(explain: Explain, maxPayloadBytes: number): Promise<number> {
    const calls = [...this.#calls.values()].flatMap((byId) => [...byId.values()]);
    const sockets = new Map(this.#sockets);
    const counted = this.#counted;
    this.#calls.clear();
    this.#sockets.clear();
    this.#deadlines.clear();
    this.#counted = 0;
    const links = new Map<number, FrameLink>();
    for (const [id, { socket, released }] of sockets) {
      released();
      if (!socket.destroyed) links.set(id, leftoverLink(socket, explain, maxPayloadBytes));
    }
    const fail = async (call: DirectCall): Promise<void> => {
      const error = await explain(call.fn, call.late ? "late" : "running");
      links.get(call.connection)?.replyError(call.requestId, error);
      this.onEnded(call, error);
    };
    await Promise.all(calls.map(fail));
    for (const link of links.values()) link.replyError(0, GOING_AWAY);
    return counted;
  }
}

/**
 * Our duplicate, read now: it answers the calls the dead worker never read, for a while, in
 * the order they came. A PING is answered after every call read before it, so a client that
 * sends one learns that a call still unanswered then was lost with the worker.
 */
function leftoverLink(socket: Socket, explain: Explain, maxPayloadBytes: number): FrameLink {
  let answered = Promise.resolve();
  const link = new FrameLink(reclaim(socket), {
    maxPayloadBytes,
    onRequest: (frame) => {
      answered = answered.then(() => answerLeftover(link, frame, explain));
    },
  });
  setTimeout(() => link.close(), LEFTOVER_MS).unref();
  return link;
}

async function answerLeftover(link: FrameLink, frame: Frame, explain: Explain): Promise<void> {
  if (frame.type === FrameType.Ping) link.reply(frame.id);
  if (frame.type !== FrameType.Invoke) return;
  const [fn = ""] = decodeFields(frame.meta);
  link.replyError(frame.id, await explain(fn, "unread"));
}

/**
 * Sent last, with id 0: tells the client, in the same read as the errors before it, that this
 * connection is done, so its next call dials again instead of racing the close.
 */
const GOING_AWAY = new PraaSError("UNAVAILABLE", "the worker serving this connection is gone");
