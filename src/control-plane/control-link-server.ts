/**
 * The control plane's end of the control links: processes dial in and register with their
 * per-process secret (checked in constant time against the metadata store); a connection that
 * cannot authenticate within the deadline is dropped. Registered links carry commands to the
 * process (swap, stop, peers) and the process's requests (resume a peer, swapped itself, idle,
 * set or cancel an alarm).
 *
 * Peer replicas dial the same port to forward commands for processes linked here: their first
 * frame is `Command ["replica", clusterSecret]`, then each `Command [command, app, name,
 * timeoutMs]` + JSON body is sent over the local link and answered with the process's reply.
 */
import net from "node:net";
import type { Logger } from "pino";
import {
  ALARM_REQUEST,
  BUNDLE_REQUEST,
  FrameType,
  LOGS_REQUEST,
  MAX_PORT,
  PraaSError,
  parseInteger,
  decodeFields,
  encodeFields,
  ensurePraaSError,
  expectFields,
  parseAlarmFields,
  secretsEqual,
  type AlarmReply,
  type AlarmRequest,
  type ControlBody,
  type ControlCommand,
  type ControlReply,
  type Frame,
  type PeerTicket,
  type ProcessReach,
  isProcessReach,
  type LogBatch,
} from "../protocol/index.js";
import { FrameLink, listenFailure } from "../transport/index.js";

export interface ControlLinkTimings {
  /** A connection that has not registered by then is dropped. */
  registerTimeoutMs: number;
  /** How long a command waits for a process whose control link is being re-dialled. */
  reconnectWaitMs: number;
}

const DEFAULT_TIMINGS: ControlLinkTimings = { registerTimeoutMs: 10_000, reconnectWaitMs: 5_000 };
/**
 * How long a forwarded command waits here for a link that is not (yet) here: short, since the
 * link may have moved to another replica, which the forwarding replica finds in the store.
 */
const FORWARDED_WAIT_MS = 1_000;
/** The first field of a peer replica's first frame. */
export const REPLICA_HELLO = "replica";

export interface Registration {
  app: string;
  name: string;
  host: string;
  port: number;
  token: string;
  /** How clients reach it (absent: direct; a process registers it as its 7th field). */
  path?: ProcessReach | undefined;
}

/** A body for the commands that take one (optional for the others), then a timeout. */
export type CommandArguments<C extends ControlCommand> =
  ControlBody<C> extends undefined
    ? [body?: undefined, timeoutMs?: number]
    : [body: ControlBody<C>, timeoutMs?: number];

export interface ControlLinkEvents {
  /** The stored secret of a process, or undefined when there is no such process. */
  secretOf(app: string, name: string): Promise<string | undefined>;
  registered(registration: Registration): Promise<void>;
  /** A registered link closed. */
  lost(app: string, name: string): void;
  /** The process asks for a swapped peer to be resumed. */
  resumeRequested(app: string, from: string, peer: string): Promise<void>;
  /** The process wants to reach a peer behind NAT: the peer is told to pair; we get the dialer's half. */
  peerTicketRequested?(app: string, from: string, peer: string): Promise<PeerTicket>;
  /** The process swapped itself out (it was told to stop by a signal) and is about to exit. */
  swappedItself(app: string, name: string, size: number): Promise<void>;
  /** Nothing used the process for its idle time: swap it out (answered at once, swapped after). */
  idle?(app: string, name: string): void;
  /** The process sets or cancels one of its alarms; answered once the store has it. */
  alarm?(app: string, name: string, request: AlarmRequest): Promise<AlarmReply>;
  /** A batch of function logs and metrics from the process. */
  logs?(app: string, name: string, batch: LogBatch): void;
  /** The secret peer replicas must present to forward commands. */
  clusterSecret(): Promise<string>;
  /** The bundle under `key` for an authenticated process of `app` (see BUNDLE_REQUEST). */
  bundle(app: string, key: string): Promise<Buffer>;
}

export class ControlLinkServer {
  readonly #server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
  readonly #links = new Map<string, FrameLink>();
  readonly #events: ControlLinkEvents;
  readonly #log: Logger;
  readonly #timings: ControlLinkTimings;
  #onRegister: (() => void)[] = [];

  constructor(events: ControlLinkEvents, log: Logger, timings: Partial<ControlLinkTimings> = {}) {
    this.#events = events;
    this.#log = log;
    this.#timings = { ...DEFAULT_TIMINGS, ...timings };
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", (error) =>
        reject(listenFailure(error, "the control link's", "--control-port (controlPort)")),
      );
      this.#server.listen(port, host, () =>
        resolve((this.#server.address() as net.AddressInfo).port),
      );
    });
  }

  /** The processes of `app` with an open link here. */
  linked(app: string): string[] {
    const prefix = key(app, "");
    return [...this.#links]
      .filter(([id, link]) => id.startsWith(prefix) && !link.closed)
      .map(([id]) => id.slice(prefix.length));
  }

  has(app: string, name: string): boolean {
    const link = this.#links.get(key(app, name));
    return link !== undefined && !link.closed;
  }

  /**
   * Sends a command to a registered process; resolves its JSON reply. A process that is
   * re-dialling (e.g. after a control-plane restart) gets a moment to come back first.
   */
  async command<C extends ControlCommand>(
    app: string,
    name: string,
    command: C,
    ...[body, timeoutMs = 120_000]: CommandArguments<C>
  ): Promise<ControlReply<C>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const reply = await this.send(app, name, command, payload, timeoutMs);
    // The process authenticated with its secret: its reply has the shape the command map says.
    return parseReply<C>(reply);
  }

  /** A command with its body as bytes; resolves the reply's bytes (what forwarding relays). */
  async send(
    app: string,
    name: string,
    command: string,
    payload: Buffer | undefined,
    timeoutMs: number,
    waitMs = this.#timings.reconnectWaitMs,
  ): Promise<Buffer> {
    const link = await this.#linkOf(app, name, waitMs);
    if (!link) throw new PraaSError("UNAVAILABLE", `process ${app}/${name} is not connected`);
    const reply = await link.request(
      FrameType.Command,
      encodeFields([command]),
      payload,
      timeoutMs,
    );
    return reply.payload;
  }

  async #linkOf(app: string, name: string, waitMs: number): Promise<FrameLink | undefined> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const link = this.#links.get(key(app, name));
      if (link && !link.closed) return link;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#onRegister.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const link of this.#links.values()) link.destroy();
    await closed;
  }

  #accept(socket: net.Socket): void {
    let peer: Registration | typeof REPLICA_HELLO | undefined;
    const timer = setTimeout(() => link.destroy(), this.#timings.registerTimeoutMs);
    const link = new FrameLink(socket, {
      maxPayloadBytes: 1024 * 1024,
      onRequest: (frame) => {
        if (peer === REPLICA_HELLO) this.#onForwarded(link, frame);
        else if (peer) this.#onRequest(link, peer, frame);
        else if (isBundleRequest(frame)) void this.#serveBundle(link, frame, timer);
        else void this.#authenticate(link, frame, timer).then((r) => (peer = r));
      },
      onClose: () => {
        clearTimeout(timer);
        if (peer && peer !== REPLICA_HELLO) this.#onClose(link, peer);
      },
    });
  }

  #authenticate(
    link: FrameLink,
    frame: Frame,
    timer: NodeJS.Timeout,
  ): Promise<Registration | typeof REPLICA_HELLO | undefined> {
    const replica =
      frame.type === FrameType.Command && decodeFields(frame.meta)[0] === REPLICA_HELLO;
    return replica ? this.#acceptReplica(link, frame, timer) : this.#register(link, frame, timer);
  }

  /** A peer replica proves it belongs to the cluster; from then on it may forward commands. */
  async #acceptReplica(
    link: FrameLink,
    frame: Frame,
    timer: NodeJS.Timeout,
  ): Promise<typeof REPLICA_HELLO | undefined> {
    try {
      const [, secret = ""] = expectFields(frame.meta, 2, "replica hello");
      if (!secretsEqual(secret, await this.#events.clusterSecret()))
        throw new PraaSError("UNAUTHORIZED", "wrong cluster secret");
      clearTimeout(timer);
      link.reply(frame.id);
      return REPLICA_HELLO;
    } catch (error) {
      this.#log.warn({ err: String(error) }, "peer replica refused");
      link.replyError(frame.id, ensurePraaSError(error));
      link.close();
      return undefined;
    }
  }

  /** A command a peer replica forwards for a process linked here. */
  #onForwarded(link: FrameLink, frame: Frame): void {
    const [command = "", app = "", name = "", timeout = ""] = expectFields(
      frame.meta,
      4,
      "forwarded command",
    );
    const timeoutMs = parseInteger(timeout, "timeoutMs", 1);
    const payload = frame.payload.length === 0 ? undefined : Buffer.from(frame.payload);
    this.send(app, name, command, payload, timeoutMs, FORWARDED_WAIT_MS).then(
      (reply) => link.reply(frame.id, reply),
      (error: unknown) => link.replyError(frame.id, ensurePraaSError(error)),
    );
  }

  async #register(
    link: FrameLink,
    frame: Frame,
    timer: NodeJS.Timeout,
  ): Promise<Registration | undefined> {
    let claimed: { app?: string; name?: string } = {}; // who it said it was, for the log
    try {
      if (frame.type !== FrameType.Register)
        throw new PraaSError("PROTOCOL_ERROR", "expected REGISTER");
      const [app = "", name = "", secret = "", host = "", port = "", token = "", reach] =
        expectFields(frame.meta, 6, "register");
      claimed = { app, name };
      const expected = await this.#events.secretOf(app, name);
      if (expected === undefined || !secretsEqual(secret, expected))
        throw new PraaSError("UNAUTHORIZED", "unknown process or wrong secret");
      const registration = {
        app,
        name,
        host,
        port: parseInteger(port, "port", 0, MAX_PORT),
        token,
        ...(reach !== undefined && isProcessReach(reach) && reach !== "direct"
          ? { path: reach }
          : {}),
      };
      await this.#events.registered(registration);
      clearTimeout(timer);
      link.reply(frame.id);
      // Only now may commands use this link: the process has its registration reply first.
      this.#replace(app, name, link);
      return registration;
    } catch (error) {
      this.#log.warn({ ...claimed, err: String(error) }, "control link refused");
      link.replyError(frame.id, ensurePraaSError(error));
      link.close();
      return undefined;
    }
  }

  /** Answers a bundle request (a connection of its own, closed by the process afterwards). */
  async #serveBundle(link: FrameLink, frame: Frame, timer: NodeJS.Timeout): Promise<void> {
    const [, app = "", name = "", secret = "", bundleKey = ""] = expectFields(
      frame.meta,
      5,
      "bundle",
    );
    try {
      const expected = await this.#events.secretOf(app, name);
      if (expected === undefined || !secretsEqual(secret, expected))
        throw new PraaSError("UNAUTHORIZED", "unknown process or wrong secret");
      link.reply(frame.id, await this.#events.bundle(app, bundleKey));
    } catch (error) {
      this.#log.warn({ app, name, err: String(error) }, "bundle request refused");
      link.replyError(frame.id, ensurePraaSError(error));
    } finally {
      clearTimeout(timer);
    }
  }

  #replace(app: string, name: string, link: FrameLink): void {
    const old = this.#links.get(key(app, name));
    this.#links.set(key(app, name), link);
    if (old && old !== link) old.destroy();
    for (const wake of this.#onRegister.splice(0)) wake();
  }

  #onRequest(link: FrameLink, from: Registration, frame: Frame): void {
    const [command = ""] = expectFields(frame.meta, 1, "command");
    if (frame.type === FrameType.Command && command === "idle") {
      // Answered first: the swap that follows ends this very link.
      link.reply(frame.id);
      this.#events.idle?.(from.app, from.name);
      return;
    }
    if (frame.type === FrameType.Command && command === LOGS_REQUEST) {
      this.#events.logs?.(from.app, from.name, parseLogBatch(frame.payload));
      link.reply(frame.id);
      return;
    }
    if (frame.type !== FrameType.Command) {
      throw new PraaSError("PROTOCOL_ERROR", `unexpected request ${command}`);
    }
    this.#handleRequest(from, frame).then(
      (reply) => link.reply(frame.id, reply),
      (error: unknown) => link.replyError(frame.id, ensurePraaSError(error)),
    );
  }

  /** A process's request; resolves the reply's bytes (none for most). */
  async #handleRequest(from: Registration, frame: Frame): Promise<Buffer | undefined> {
    const [command = "", ...args] = decodeFields(frame.meta);
    const arg = args[0] ?? "";
    switch (command) {
      case ALARM_REQUEST:
        return this.#alarm(from, args, frame.payload);
      case "resume":
        return void (await this.#events.resumeRequested(from.app, from.name, arg));
      case "swapped":
        return void (await this.#events.swappedItself(from.app, from.name, Number(arg)));
      case "connect": {
        const events = this.#events;
        if (!events.peerTicketRequested)
          throw new PraaSError("PEER_UNAVAILABLE", "no rendezvous configured");
        const ticket = await events.peerTicketRequested(from.app, from.name, arg);
        return Buffer.from(JSON.stringify(ticket));
      }
      default:
        throw new PraaSError("PROTOCOL_ERROR", `unexpected request ${command}`);
    }
  }

  /** The process sets or cancels an alarm; the reply says whether one was set. */
  async #alarm(from: Registration, fields: string[], payload: Buffer): Promise<Buffer> {
    if (!this.#events.alarm) throw new PraaSError("UNAVAILABLE", "alarms are not served here");
    const request = parseAlarmFields(fields, Buffer.from(payload));
    return Buffer.from(JSON.stringify(await this.#events.alarm(from.app, from.name, request)));
  }

  #onClose(link: FrameLink, registration: Registration): void {
    const id = key(registration.app, registration.name);
    if (this.#links.get(id) !== link) return;
    this.#links.delete(id);
    this.#log.info({ app: registration.app, name: registration.name }, "control link closed");
    this.#events.lost(registration.app, registration.name);
  }
}

export function parseReply<C extends ControlCommand>(payload: Buffer): ControlReply<C> {
  const text = payload.length === 0 ? "null" : payload.toString("utf8");
  return JSON.parse(text) as ControlReply<C>;
}

/** The process authenticated with its secret; still, a batch that is not one is refused. */
function parseLogBatch(payload: Buffer): LogBatch {
  const value = JSON.parse(payload.toString("utf8")) as Partial<LogBatch> | null;
  if (value === null || typeof value !== "object" || !Array.isArray(value.records))
    throw new PraaSError("BAD_REQUEST", "a log batch must carry records");
  return { records: value.records, dropped: Number(value.dropped) || 0, metrics: value.metrics };
}

function isBundleRequest(frame: Frame): boolean {
  return frame.type === FrameType.Command && decodeFields(frame.meta)[0] === BUNDLE_REQUEST;
}

function key(app: string, name: string): string {
  return `${app}/${name}`;
}
