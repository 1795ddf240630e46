/**
 * The process side of the control link: dial the control plane, register with the per-process
 * secret, then answer its commands (swap, stop, peers) and ask it to resume swapped peers.
 * If the control plane goes away the link is redialled with backoff, so processes survive a
 * control-plane restart. A registration refused with REPLACED (a newer instance of this process
 * took its place meanwhile) ends the re-dialling: the handler's `replaced` stops the process
 * without saving anything, so its older state can never overwrite the newer instance's.
 *
 * Commands (control plane → process), Command frame with fields [name] and a JSON payload:
 *   "swap"   → payload { swapId?, ifIdle? }; Result JSON { size, key }; the process exits
 *              afterwards. `swapId` is stored in the snapshot's head. A swap whose write failed
 *              answers an Error (STORAGE_ERROR; REPLACED when a newer instance stored the
 *              snapshot) and the process stays active. With ifIdle (an idle swap-out) it is
 *              refused with INVALID_STATE when the process was used since it reported itself
 *              idle; the reply adds idleSince
 *   "stop"   → Result; the process exits afterwards
 *   "peers"  → payload PeerEntry[] (replaces the peer directory) or {changed, removed}
 *   "status" → Result JSON { status, port, workers, stateBytes, stateKeys, connections?, wal? }
 *   "state"  → Result JSON ProcessStateInfo: the state's keys with their value sizes (no values)
 * Requests (process → control plane):
 *   Register [application, process, secret, host, port, token, reach] → Result
 * Command "pair" (control plane → process): JSON PairCommand; answered at once, and the process
 *   joins the pairing as its listener in the background (see runtime/pairing.ts)
 *   Command ["resume", peer] → Result once the peer is active (resumed first when swapped) and
 *     a fresh directory has been sent to us; PROCESS_NOT_FOUND when there is no such peer
 *   Command ["connect", peer] → Result JSON PeerTicket: a dialer ticket for a peer reachable
 *     only through the rendezvous (the peer got the listener's half as a "pair" command)
 *   Command ["swapped", size] → Result once the record says swapped (the process swapped itself
 *     out on SIGTERM/SIGINT and exits next)
 *   Command ["idle"] → Result at once: nothing used the process for its idle time; the control
 *     plane may answer with a swap { ifIdle: true }
 *   Command ["logs"] + JSON LogBatch → Result once the control plane keeps the records
 *   Command ["alarm", "set", function, at] + payload | ["alarm", "cancel", function] → Result
 *     JSON {existed} once the process record stores the change
 */
import type { Socket } from "node:net";
import type { Logger } from "pino";
import {
  ALARM_REQUEST,
  alarmFields,
  FrameType,
  PraaSError,
  encodeFields,
  ensurePraaSError,
  expectFields,
  isControlCommand,
  LOGS_REQUEST,
  type LogBatch,
  type AlarmReply,
  type AlarmRequest,
  type ControlBody,
  type ControlCommand,
  type ControlReply,
  type Frame,
  type PairCommand,
  type PeerChanges,
  type PeerTicket,
  type ProcessReach,
  type SwapBody,
} from "../protocol/index.js";
import { FrameLink, openSocket } from "../transport/index.js";
import type { ControlLinkOptions, PeerEntry } from "./config.js";

/** One function per command (src/protocol/control.ts says what each takes and answers). */
export type CommandHandlers = {
  [C in ControlCommand]: (body: ControlBody<C>) => Promise<ControlReply<C>>;
};

export interface ControlHandler {
  /** Registration fields after the secret: host, port, token, reach. */
  endpoint(): { host: string; port: number; token: string; reach?: ProcessReach };
  commands: CommandHandlers;
  /** Runs after the successful reply to a command has been sent (e.g. to exit after a swap). */
  afterReply(name: string): void;
  /** The control plane has been unreachable for longer than the orphan timeout (repeats at every failed re-dial after it). */
  orphaned(): void;
  /** The control plane refused us for a newer instance of this process: exit, saving nothing. */
  replaced(): void;
}

export type ControlLinkSettings = ControlLinkOptions & {
  application: string;
  process: string;
  /** How long to keep re-dialling before giving up on the control plane. */
  orphanTimeoutMs: number;
};

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
const REPORT_TIMEOUT_MS = 5_000;
const DIAL_TIMEOUT_MS = 10_000;

export class ControlLink {
  #link: FrameLink | undefined;
  #closing = false;
  #retryMs = RETRY_MIN_MS;
  #lostAt = 0;
  readonly #options: ControlLinkSettings;
  readonly #handler: ControlHandler;
  readonly #log: Logger;

  constructor(options: ControlLinkSettings, handler: ControlHandler, log: Logger) {
    this.#options = options;
    this.#handler = handler;
    this.#log = log;
  }

  /**
   * Connects and registers; rejects when the first registration fails. `ahead`: a connection
   * to the control plane opened earlier (see `dialAhead`), used if it is still open.
   */
  async connect(ahead?: Promise<Socket | undefined>): Promise<void> {
    const early = usable(await ahead);
    if (early !== undefined) {
      try {
        this.#link = await this.#register(early);
        return;
      } catch (error) {
        // Refused (a wrong secret, REPLACED) is final; only a lost connection is dialled again.
        if (!(error instanceof PraaSError) || error.code !== "CONNECTION_CLOSED") throw error;
      }
    }
    this.#link = await this.#dial();
  }

  /** Asks the control plane to resume a swapped peer. */
  async resume(peer: string): Promise<void> {
    if (!this.#link || this.#link.closed)
      throw new PraaSError("PEER_UNAVAILABLE", "no control-plane link");
    await this.#link.request(FrameType.Command, encodeFields(["resume", peer]));
  }

  /** Asks the control plane for a ticket to pair with a peer behind NAT. */
  async peerTicket(peer: string): Promise<PeerTicket> {
    if (!this.#link || this.#link.closed)
      throw new PraaSError("PEER_UNAVAILABLE", "no control-plane link");
    const reply = await this.#link.request(FrameType.Command, encodeFields(["connect", peer]));
    return JSON.parse(reply.payload.toString("utf8")) as PeerTicket;
  }

  /**
   * Sets or cancels an alarm; resolves, once the control plane stored the change, whether one
   * was set before. Without a link now it fails at once (the function may retry).
   */
  async alarm(request: AlarmRequest): Promise<boolean> {
    if (!this.#link || this.#link.closed)
      throw new PraaSError("UNAVAILABLE", "no control-plane link; alarms cannot be stored now");
    const fields = encodeFields([ALARM_REQUEST, ...alarmFields(request)]);
    const payload = request.op === "set" ? request.payload : undefined;
    const reply = await this.#link.request(FrameType.Command, fields, payload, REPORT_TIMEOUT_MS);
    return (JSON.parse(reply.payload.toString("utf8")) as AlarmReply).existed;
  }

  /**
   * Tells the control plane this process swapped itself out (it was asked to stop by a signal),
   * so its record becomes `swapped`. Best effort: without a link the control plane learns it
   * from the lost link, and `resume` from `failed` restores the same snapshot.
   */
  async reportSwapped(size: number): Promise<void> {
    if (!this.#link || this.#link.closed) return;
    await this.#link.request(
      FrameType.Command,
      encodeFields(["swapped", String(size)]),
      undefined,
      REPORT_TIMEOUT_MS,
    );
  }

  /** Tells the control plane nothing used this process for its idle time (best effort). */
  async reportIdle(): Promise<void> {
    if (!this.#link || this.#link.closed) return;
    await this.#link.request(
      FrameType.Command,
      encodeFields(["idle"]),
      undefined,
      REPORT_TIMEOUT_MS,
    );
  }

  /**
   * Sends a batch of function logs and metrics; undefined when there is no link now (the
   * forwarder keeps the records and tries again later).
   */
  sendLogs(batch: LogBatch): Promise<void> | undefined {
    const link = this.#link;
    if (!link || link.closed) return undefined;
    const payload = Buffer.from(JSON.stringify(batch));
    return link
      .request(FrameType.Command, encodeFields([LOGS_REQUEST]), payload, REPORT_TIMEOUT_MS)
      .then(() => undefined);
  }

  close(): void {
    this.#closing = true;
    this.#link?.close();
  }

  /**
   * Ends the link and resolves once the control plane closed its side too (or after `waitMs`).
   * A process that exits with control-plane frames still unread (a directory push sent while
   * it swapped) resets the connection, and the reset can lose its last reply on the way.
   */
  closeGracefully(waitMs: number): Promise<void> {
    const link = this.#link;
    this.close();
    if (!link || link.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      link.socket.once("close", () => resolve());
      setTimeout(resolve, waitMs).unref();
    });
  }

  async #dial(): Promise<FrameLink> {
    return this.#register(
      await openSocket(this.#options.host, this.#options.port, DIAL_TIMEOUT_MS),
    );
  }

  async #register(socket: Socket): Promise<FrameLink> {
    const link = new FrameLink(socket, {
      maxPayloadBytes: 64 * 1024 * 1024,
      onRequest: (frame) => this.#onCommand(link, frame),
      onClose: () => this.#onLost(link),
    });
    const { host, port, token, reach = "direct" } = this.#handler.endpoint();
    const { application, process, secret } = this.#options;
    await link.request(
      FrameType.Register,
      encodeFields([application, process, secret, host, String(port), token, reach]),
      undefined,
      10_000,
    );
    this.#retryMs = RETRY_MIN_MS;
    return link;
  }

  #onCommand(link: FrameLink, frame: Frame): void {
    if (frame.type !== FrameType.Command)
      throw new PraaSError("PROTOCOL_ERROR", "expected a command");
    const [name = ""] = expectFields(frame.meta, 1, "command");
    runCommand(this.#handler.commands, name, frame.payload).then(
      (result) => {
        link.reply(frame.id, Buffer.from(JSON.stringify(result ?? null)));
        link.flush();
        this.#handler.afterReply(name);
      },
      (error: unknown) => link.replyError(frame.id, ensurePraaSError(error)),
    );
  }

  #onLost(link: FrameLink): void {
    if (this.#closing || this.#link !== link) return;
    this.#link = undefined;
    this.#lostAt = Date.now();
    this.#log.warn("control link lost; reconnecting");
    this.#scheduleRedial();
  }

  #scheduleRedial(): void {
    setTimeout(() => void this.#redial(), this.#retryMs).unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
  }

  async #redial(): Promise<void> {
    if (this.#closing) return;
    try {
      this.#link = await this.#dial();
      this.#log.info("control link re-established");
    } catch (error) {
      if (error instanceof PraaSError && error.code === "REPLACED") {
        this.#closing = true;
        this.#log.warn({ err: error.message }, "a newer instance replaced this process");
        this.#handler.replaced();
        return;
      }
      this.#log.debug({ err: String(error) }, "control link reconnect failed");
      // Past the orphan timeout the process is told (it swaps out and exits); if it cannot
      // store its state it stays, so keep dialling: a control plane that returns takes it back.
      if (Date.now() - this.#lostAt >= this.#options.orphanTimeoutMs) this.#handler.orphaned();
      this.#scheduleRedial();
    }
  }
}

/**
 * Opens a connection to the control plane at `host:port` before there is anything to register
 * (a starting process dials while its state comes back and its workers load, then registers
 * over it with `connect`). Never rejects: undefined when it cannot connect (then `connect`
 * dials again and reports why).
 */
export function dialAhead(host: string, port: number): Promise<Socket | undefined> {
  return openSocket(host, port, DIAL_TIMEOUT_MS).then(
    (socket) => {
      dialledAt.set(socket, Date.now());
      // A reset before the link takes the socket over must not throw: the link sees it closed.
      return socket.on("error", () => undefined);
    },
    () => undefined,
  );
}

/**
 * A connection opened ahead is used only while the control plane surely still waits for its
 * registration (it drops one that has not registered within 10 s, e.g. while a large state
 * came back from S3): an older one is closed, and `connect` dials afresh.
 */
const AHEAD_MAX_AGE_MS = 5_000;
const dialledAt = new WeakMap<Socket, number>();

function usable(socket: Socket | undefined): Socket | undefined {
  if (socket === undefined) return undefined;
  const fresh = Date.now() - (dialledAt.get(socket) ?? 0) < AHEAD_MAX_AGE_MS;
  if (fresh && !socket.destroyed) return socket;
  socket.destroy();
  return undefined;
}

const BODY_DECODERS: { [C in ControlCommand]: (payload: Buffer) => ControlBody<C> } = {
  swap: (payload) => (payload.length === 0 ? undefined : parseSwapBody(payload)),
  stop: () => undefined,
  peers: (payload) => parsePeers(payload),
  status: () => undefined,
  pair: (payload) => parsePair(payload),
  state: () => undefined,
};

function runCommand(handlers: CommandHandlers, name: string, payload: Buffer): Promise<unknown> {
  if (!isControlCommand(name))
    return Promise.reject(new PraaSError("BAD_REQUEST", `unknown command ${name}`));
  return dispatch(handlers, name, payload);
}

function dispatch<C extends ControlCommand>(
  handlers: CommandHandlers,
  name: C,
  payload: Buffer,
): Promise<ControlReply<C>> {
  return handlers[name](BODY_DECODERS[name](payload));
}

function parseSwapBody(payload: Buffer): SwapBody | undefined {
  const value = JSON.parse(payload.toString("utf8")) as SwapBody | null;
  return typeof value === "object" && value !== null ? value : undefined;
}

/** A whole directory (an array) or changes to it ({changed, removed}). */
export function parsePeers(payload: Buffer): PeerEntry[] | PeerChanges {
  const value: unknown = JSON.parse(payload.toString("utf8"));
  if (Array.isArray(value)) return value as PeerEntry[];
  const { changed, removed } = (value ?? {}) as Partial<PeerChanges>;
  if (!Array.isArray(changed) || !Array.isArray(removed))
    throw new PraaSError("BAD_REQUEST", "peers must be an array or {changed, removed}");
  return { changed, removed };
}

function parsePair(payload: Buffer): PairCommand {
  const value = JSON.parse(payload.toString("utf8")) as Partial<PairCommand> | null;
  const { rendezvous, ticket } = value ?? {};
  if (typeof ticket !== "string" || typeof rendezvous?.host !== "string")
    throw new PraaSError("BAD_REQUEST", "pair needs {rendezvous: {host, port}, ticket}");
  return { rendezvous: { host: rendezvous.host, port: Number(rendezvous.port) }, ticket };
}
