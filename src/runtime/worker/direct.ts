/**
 * Client connections the process handed to this worker once their HELLO checked out: the
 * worker reads their INVOKE frames and writes the replies itself, so a direct call crosses two
 * sockets, as a raw echo does, instead of four.
 *
 * The process stays in charge of everything process-wide. Every call is reported on the worker
 * link before the function runs (CallStarted, written at once: a crash in the same tick must
 * not hide it) and after its reply (CallEnded), so the process counts calls in flight (swap
 * drains them), enforces the deadline of a call that blocks the event loop (it pings and kills
 * the worker), and, holding a duplicate of each socket, answers the calls in flight of a worker
 * that died. Serialized functions go through the process (the input gate is there). The limits
 * of a data-plane connection hold here as they do in the process: calls and payload bytes in
 * flight, unsent replies, payload size, garbage.
 *
 * Every call on a connection runs in the worker serving it (the SDK keeps one connection per
 * worker, so a client's calls still spread). A call that wrote state answers only once the
 * process acknowledged its writes: by then the process applied them and told the other
 * workers, so a call that starts after this one ended sees them, as through the process.
 */
import type { Socket } from "node:net";
import {
  FrameType,
  PraaSError,
  encodeFields,
  ensurePraaSError,
  expectFields,
  type Frame,
} from "../../protocol/index.js";
import {
  FrameLink,
  SharedDeadlines,
  callsAnswered,
  pingAfterCalls,
  sayGoodbye,
  waitUpTo,
  writtenOut,
  type CallsOnLink,
} from "../../transport/index.js";
import type { CallNotices } from "./call-notices.js";
import { userErrorRecord } from "./user-stack.js";

/** The limits of a data-plane connection, as the process applies them. */
export interface ConnectionLimits {
  maxPayloadBytes: number;
  maxInflight: number;
  maxInflightPerConnection: number;
  maxInflightBytesPerConnection: number;
  writeBacklogBytes: number;
  invocationTimeoutMs: number;
}

/** The IPC message that comes with a handed-over socket. */
export interface HandOff {
  kind: "praas-connection";
  /** The process's number for this connection, used in CallStarted/CallEnded. */
  connection: number;
  /** Bytes the process read past HELLO, base64. */
  rest: string;
  /** Serialized functions (praas.json "serialize"): true, or their names. */
  serialize: boolean | readonly string[];
  /** What state and mailbox may still take. */
  free: number;
  /** Whether callers see a failed function's stack trace. */
  errorStacks: boolean;
  limits: ConnectionLimits;
}

export interface DirectHost {
  /** The worker's link to the process. */
  link: FrameLink;
  /** Where the calls' starts and ends are told to the process. */
  notices: CallNotices;
  /** FUNCTION_NOT_FOUND (naming what there is) when the bundle has no such function. */
  missing(callName: string): PraaSError | undefined;
  /** Invocations this worker runs now, whoever sent them. */
  running(): number;
  run(functionName: string, payload: Buffer, invocationId: string): Promise<Uint8Array>;
  /** Numbers this worker's next invocation. */
  nextInvocation(): number;
  /** The id of invocation number `invocation` (protocol: invocationIdOf). */
  invocationId(invocation: number): string;
}

interface Connection extends CallsOnLink {
  id: number;
  link: FrameLink;
  handOff: HandOff;
  bytes: number;
}

export function isHandOff(message: unknown): message is HandOff {
  return (message as Partial<HandOff> | null)?.kind === "praas-connection";
}

export class DirectConnections {
  /** False while the process swaps out: new calls are refused, running ones finish. */
  accepting = true;
  readonly #host: DirectHost;
  /** Calls taken but not running yet (they start a microtask later). */
  #admitted = 0;
  /** The deadlines of the calls running here: each call's TIMEOUT answer. */
  readonly #deadlines = new SharedDeadlines<DirectReply>((reply) => reply.timeOut());
  readonly #connections = new Map<number, Connection>();
  /** Runs when the last connection closed. */
  #allClosed: (() => void) | undefined;

  constructor(host: DirectHost) {
    this.#host = host;
  }

  adopt(handOff: HandOff, socket: Socket): void {
    const { limits, connection: id } = handOff;
    const link = new FrameLink(socket, {
      maxPayloadBytes: limits.maxPayloadBytes,
      writeBacklogBytes: limits.writeBacklogBytes,
      onRequest: (frame) => this.#serve(connection, frame),
      onClose: () => this.#closed(id),
    });
    const connection: Connection = { id, link, handOff, count: 0, bytes: 0, pings: [] };
    this.#connections.set(id, connection);
    link.feed(Buffer.from(handOff.rest, "base64"));
  }

  /**
   * The worker is stopping: refuse new calls, tell every client its connection is going away,
   * and resolve once each client closed its connection or `lingerMs` passed, with every answer
   * written out. Dying with a refusal unsent would leave a call that never ran looking lost.
   */
  async stop(lingerMs: number): Promise<void> {
    this.accepting = false;
    const until = performance.now() + lingerMs;
    const connections = this.#connections;
    sayGoodbye([...connections.values()].map(({ link }) => link));
    if (connections.size > 0) await waitUpTo(lingerMs, (done) => (this.#allClosed = done));
    const written = Promise.all(
      [...connections.values()].map(({ link }) => writtenOut(link.socket)),
    );
    await waitUpTo(until - performance.now(), (done) => void written.then(done));
  }

  #serve(connection: Connection, frame: Frame): void {
    if (frame.type === FrameType.Invoke) return this.#invoke(connection, frame);
    if (frame.type === FrameType.Ping) return pingAfterCalls(connection.link, connection, frame.id);
    if (frame.type === FrameType.PeerPut)
      throw new PraaSError("PROTOCOL_ERROR", "only processes deliver messages");
    throw new PraaSError("PROTOCOL_ERROR", `unexpected frame type ${frame.type} on the data plane`);
  }

  /** The checks the process makes, in its order, then the call itself. */
  #invoke(connection: Connection, frame: Frame): void {
    const [functionName = ""] = expectFields(frame.meta, 1, "invoke");
    const limits = connection.handOff.limits;
    if (connection.count >= limits.maxInflightPerConnection) {
      const message = `this connection already has ${limits.maxInflightPerConnection} invocations in flight`;
      throw new PraaSError("TOO_MANY_REQUESTS", message);
    }
    const missing = this.#host.missing(functionName);
    if (missing) throw missing;
    if (!this.accepting) throw new PraaSError("UNAVAILABLE", "the process is swapping");
    if (this.#host.running() + this.#admitted >= limits.maxInflight) {
      const message = `the process has ${limits.maxInflight} invocations in flight`;
      throw new PraaSError("TOO_MANY_REQUESTS", message);
    }
    const done = this.#track(connection, frame.payload.length);
    if (gates(connection.handOff.serialize, functionName)) {
      void this.#forward(connection, frame, functionName).finally(done);
    } else {
      void this.#run(connection, frame, functionName).finally(done);
    }
  }

  /** Counts a call on its connection; past the byte budget, stops reading until it drops. */
  #track(connection: Connection, bytes: number): () => void {
    const budget = connection.handOff.limits.maxInflightBytesPerConnection;
    connection.count++;
    connection.bytes += bytes;
    if (connection.bytes > budget) connection.link.pauseReading("inflight");
    return () => {
      connection.count--;
      connection.bytes -= bytes;
      if (connection.bytes <= budget) connection.link.resumeReading("inflight");
      if (connection.count === 0) callsAnswered(connection.link, connection);
    };
  }

  async #run(connection: Connection, frame: Frame, functionName: string): Promise<void> {
    const invocation = this.#host.nextInvocation();
    this.#host.notices.started(connection.id, frame.id, functionName, invocation);
    const reply = this.#reply(connection, frame.id, functionName);
    // User code starts only once every call read with this one is reported and the reports
    // are on their way: a function that blocks the event loop must not hide the calls after it.
    this.#admitted++;
    await Promise.resolve();
    this.#admitted--;
    this.#host.notices.send();
    try {
      const invocationId = this.#host.invocationId(invocation);
      reply.result(await this.#host.run(functionName, frame.payload, invocationId));
    } catch (error) {
      reply.error(PraaSError.fromRecord(userErrorRecord(error)));
    }
  }

  /** The call's answer, due by its deadline (see DirectReply). */
  #reply(connection: Connection, id: number, functionName: string): DirectReply {
    const reply = new DirectReply(
      connection,
      id,
      functionName,
      this.#host.notices,
      this.#deadlines,
    );
    this.#deadlines.add(reply, connection.handOff.limits.invocationTimeoutMs);
    return reply;
  }

  /** A call of a serialized function: the input gate is in the process, so it runs it. */
  async #forward(connection: Connection, frame: Frame, functionName: string): Promise<void> {
    // Reported too (the process counts it in its pool, not twice): if this worker dies before
    // it passes the answer on, the process answers the client.
    this.#host.notices.started(connection.id, frame.id, functionName, 0, true);
    this.#host.notices.send();
    try {
      const fields = encodeFields([functionName, ""]);
      const reply = await this.#host.link.request(FrameType.Call, fields, frame.payload);
      connection.link.reply(frame.id, reply.payload);
    } catch (error) {
      connection.link.replyError(frame.id, ensurePraaSError(error));
    } finally {
      this.#host.notices.ended(connection.id, frame.id);
    }
  }

  /** The ends of its calls are written before the close: a drain after the close reads them. */
  #closed(id: number): void {
    this.#host.notices.flushEnds();
    this.#report(FrameType.ConnectionClosed, [String(id)]);
    this.#connections.delete(id);
    if (this.#connections.size === 0) this.#allClosed?.();
  }

  #report(type: FrameType, fields: string[]): void {
    this.#host.link.send(type, 0, encodeFields(fields));
  }
}

/**
 * Answers a call once: its result, its error, or TIMEOUT at the deadline, as the process would
 * (the function runs on; its late answer is dropped); and tells the process it ended. A call
 * that blocks the event loop never gets here: the process's own deadline kills the worker and
 * answers for it. One object per call, not a closure per way of answering.
 */
class DirectReply {
  #answered = false;
  readonly #started = performance.now();

  constructor(
    readonly connection: Connection,
    readonly id: number,
    readonly functionName: string,
    readonly notices: CallNotices,
    /** Where its deadline is kept, until it is answered. */
    readonly deadlines: SharedDeadlines<DirectReply>,
  ) {}

  result(bytes: Uint8Array): void {
    if (!this.#answer()) return;
    this.connection.link.reply(this.id, bytes);
    this.#ended();
  }

  error(error: PraaSError): void {
    if (!this.#answer()) return;
    const told = this.connection.handOff.errorStacks ? error : error.withoutStack();
    this.connection.link.replyError(this.id, told);
    this.#ended(error);
  }

  timeOut(): void {
    const ms = this.connection.handOff.limits.invocationTimeoutMs;
    this.error(new PraaSError("TIMEOUT", `${this.functionName} did not finish within ${ms} ms`));
  }

  /** True the first time only. */
  #answer(): boolean {
    if (this.#answered) return false;
    this.#answered = true;
    this.deadlines.delete(this);
    return true;
  }

  #ended(error?: PraaSError): void {
    // Its duration as seen here: the notice itself may wait a little.
    this.notices.endedSince(this.connection.id, this.id, this.#started, error);
  }
}

/** Whether calls of `functionName` pass the process's input gate (praas.json "serialize"). */
export function gates(serialize: boolean | readonly string[], functionName: string): boolean {
  return typeof serialize === "boolean" ? serialize : serialize.includes(functionName);
}
