/**
 * The rendezvous server: pairs two parties that present complementary, valid, unused tickets
 * for one pairing id, tells each the other's observed (public) address so they can punch a
 * direct TCP connection, and relays their bytes when the punch fails. See
 * src/protocol/rendezvous.ts for the exchange.
 *
 * Abuse limits: a ticket must be signed with the shared secret, unexpired, not valid for longer
 * than `maxTicketLifetimeMs`, and unused (a used pairing id + role is refused until the ticket
 * expires, so memory is bounded by the issue rate); pending pairings, relays and connections are
 * capped; every wait has a deadline; garbage closes the connection with PROTOCOL_ERROR.
 */
import net, { type Socket } from "node:net";

import {
  FrameType,
  PraaSError,
  ensurePraaSError,
  parsePunchOutcome,
  peerAddressFields,
  verifyTicket,
  type ErrorRecord,
  type PairingTicket,
  type PeerAddress,
  type PunchOutcome,
} from "../protocol/index.js";
import {
  resolveRendezvousConfig,
  type RendezvousConfig,
  type RendezvousServerOptions,
} from "./config.js";
import { FrameReader } from "./frame-reader.js";
import { relayOneWay } from "./relay.js";
import { expectFrame, refuse, writeFrame } from "./wire.js";

export interface RendezvousCounters {
  /** Pairs completed (both parties came). */
  pairings: number;
  punched: number;
  relayed: number;
  /** Bytes carried by the relay, both directions. */
  relayBytes: number;
  /** Connections refused with an error (bad ticket, caps, timeouts, garbage). */
  refused: number;
  pendingPairings: number;
  activeRelays: number;
}

/** Told of each pairing as it goes (the control plane turns these into metrics). */
export interface RendezvousObserver {
  /** Both parties came. */
  paired?(): void;
  /** A path was decided, `establishMs` after the second party came. */
  established?(path: "punch" | "relay", establishMs: number): void;
  /** A pairing broke after both parties came (one left, timed out, or the relay was full). */
  failed?(): void;
  relayBytes?(count: number): void;
}

interface Party {
  socket: Socket;
  reader: FrameReader;
  /** The id of the request this party waits on an answer for. */
  requestId: number;
  observed: PeerAddress;
}

interface PendingPairing {
  ticket: PairingTicket;
  party: Party;
  timer: NodeJS.Timeout;
}

/** Used pairing id + role → when its ticket expires; swept as the map grows. */
class UsedTickets {
  readonly #expiries = new Map<string, number>();
  #sweepAt = 1024;

  /** Marks the ticket used; false when it already was. */
  claim(ticket: PairingTicket, now: number): boolean {
    const key = `${ticket.pairingId}/${ticket.role}`;
    const expiry = this.#expiries.get(key);
    if (expiry !== undefined && expiry > now) return false;
    this.#expiries.set(key, ticket.expiresAt);
    if (this.#expiries.size >= this.#sweepAt) this.#sweep(now);
    return true;
  }

  #sweep(now: number): void {
    for (const [key, expiry] of this.#expiries) if (expiry <= now) this.#expiries.delete(key);
    this.#sweepAt = Math.max(1024, this.#expiries.size * 2);
  }
}

/** A socket's peer as an IPv4 address when it is one, not its IPv6-mapped form. */
function observedAddress(socket: Socket): PeerAddress {
  const host = (socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  return { host, port: socket.remotePort ?? 0 };
}

export class RendezvousServer {
  readonly config: RendezvousConfig;
  readonly #server: net.Server;
  readonly #sockets = new Set<Socket>();
  readonly #pending = new Map<string, PendingPairing>();
  readonly #used = new UsedTickets();
  readonly #counters = { pairings: 0, punched: 0, relayed: 0, relayBytes: 0, refused: 0 };
  #activeRelays = 0;
  readonly #observer: RendezvousObserver;

  private constructor(config: RendezvousConfig, observer: RendezvousObserver) {
    this.config = config;
    this.#observer = observer;
    this.#server = net.createServer((socket) => this.#onConnection(socket));
    this.#server.maxConnections = config.maxConnections;
  }

  static async start(
    options: RendezvousServerOptions,
    observer: RendezvousObserver = {},
  ): Promise<RendezvousServer> {
    const server = new RendezvousServer(resolveRendezvousConfig(options), observer);
    await server.#listen();
    return server;
  }

  get address(): PeerAddress {
    const address = this.#server.address() as net.AddressInfo;
    return { host: address.address, port: address.port };
  }

  counters(): RendezvousCounters {
    return {
      ...this.#counters,
      pendingPairings: this.#pending.size,
      activeRelays: this.#activeRelays,
    };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const pending of this.#pending.values()) clearTimeout(pending.timer);
    this.#pending.clear();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.config.port, this.config.host, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
  }

  #onConnection(socket: Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    // Errors always end in 'close', which is what every step here acts on.
    socket.on("error", () => undefined);
    socket.once("close", () => this.#sockets.delete(socket));
    void this.#admit(socket);
  }

  async #admit(socket: Socket): Promise<void> {
    const party: Party = {
      socket,
      reader: new FrameReader(socket),
      requestId: 0,
      observed: observedAddress(socket),
    };
    try {
      const frame = await party.reader.next(this.config.ticketTimeoutMs, "pairing request");
      party.requestId = frame.id;
      const [ticketText = ""] = expectFrame(frame, FrameType.Pair);
      this.#join(this.#claim(ticketText), party);
    } catch (error) {
      this.#refuse(party, ensurePraaSError(error).toRecord());
    }
  }

  #claim(ticketText: string): PairingTicket {
    const now = Date.now();
    const ticket = verifyTicket(this.config.secret, ticketText, now);
    if (ticket.expiresAt - now > this.config.maxTicketLifetimeMs) {
      throw new PraaSError("UNAUTHORIZED", "pairing ticket valid for too long");
    }
    if (!this.#used.claim(ticket, now)) {
      throw new PraaSError("UNAUTHORIZED", "pairing ticket already used");
    }
    return ticket;
  }

  #join(ticket: PairingTicket, party: Party): void {
    const waiting = this.#pending.get(ticket.pairingId);
    if (waiting === undefined) {
      this.#wait(ticket, party);
      return;
    }
    // Unreachable while tickets are single use per id + role; kept so strangers never pair.
    if (waiting.ticket.role === ticket.role) {
      throw new PraaSError("UNAUTHORIZED", "pairing id already has this role");
    }
    this.#pending.delete(ticket.pairingId);
    clearTimeout(waiting.timer);
    void this.#pair(waiting.party, party);
  }

  #wait(ticket: PairingTicket, party: Party): void {
    if (this.#pending.size >= this.config.maxPendingPairings) {
      throw new PraaSError("TOO_MANY_REQUESTS", "too many pairings waiting: try again later");
    }
    const id = ticket.pairingId;
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      this.#refuse(party, { code: "TIMEOUT", message: "the other party did not come in time" });
    }, this.config.pairingTimeoutMs);
    this.#pending.set(id, { ticket, party, timer });
    party.socket.once("close", () => this.#forget(id, party));
  }

  #forget(pairingId: string, party: Party): void {
    const pending = this.#pending.get(pairingId);
    if (pending?.party !== party) return;
    clearTimeout(pending.timer);
    this.#pending.delete(pairingId);
  }

  async #pair(a: Party, b: Party): Promise<void> {
    this.#counters.pairings += 1;
    this.#observer.paired?.();
    const pairedAt = performance.now();
    writeFrame(a.socket, FrameType.Result, a.requestId, peerAddressFields(b.observed));
    writeFrame(b.socket, FrameType.Result, b.requestId, peerAddressFields(a.observed));
    try {
      const outcomes = await Promise.all([this.#outcome(a), this.#outcome(b)]);
      const path = outcomes.every((outcome) => outcome === "punched") ? "punch" : "relay";
      if (path === "punch") this.#confirmPunch(a, b);
      else await this.#relay(a, b);
      this.#observer.established?.(path, performance.now() - pairedAt);
    } catch (error) {
      this.#observer.failed?.();
      const record = partnerError(ensurePraaSError(error));
      this.#refuse(a, record);
      this.#refuse(b, record);
    }
  }

  async #outcome(party: Party): Promise<PunchOutcome> {
    const frame = await party.reader.next(this.config.outcomeTimeoutMs, "punch outcome");
    party.requestId = frame.id;
    return parsePunchOutcome(expectFrame(frame, FrameType.Outcome));
  }

  #confirmPunch(a: Party, b: Party): void {
    this.#counters.punched += 1;
    for (const party of [a, b]) {
      writeFrame(party.socket, FrameType.Result, party.requestId, ["punch"]);
      party.socket.end();
    }
  }

  async #relay(a: Party, b: Party): Promise<void> {
    if (this.#activeRelays >= this.config.maxRelays) {
      throw new PraaSError("TOO_MANY_REQUESTS", "the relay is full: try again later");
    }
    this.#counters.relayed += 1;
    this.#activeRelays += 1;
    let open = 2;
    const onClose = (): void => {
      open -= 1;
      if (open === 0) this.#activeRelays -= 1;
    };
    // Bytes sent after the decision must reach the pipe, not the frame reader.
    await Promise.all([a.reader.release(), b.reader.release()]);
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      if (from.socket.destroyed) onClose();
      else from.socket.once("close", onClose);
      writeFrame(from.socket, FrameType.Result, from.requestId, ["relay"]);
      relayOneWay(from.socket, to.socket, {
        bytesPerSecond: this.config.relayBytesPerSecond,
        onBytes: (count) => {
          this.#counters.relayBytes += count;
          this.#observer.relayBytes?.(count);
        },
      });
    }
  }

  #refuse(party: Party, record: ErrorRecord): void {
    if (party.socket.destroyed || party.socket.writableEnded) return;
    this.#counters.refused += 1;
    refuse(party.socket, party.requestId, record);
  }
}

/** A party that left (or broke the exchange) leaves its partner without a peer. */
function partnerError(error: PraaSError): ErrorRecord {
  if (error.code !== "CONNECTION_CLOSED") return error.toRecord();
  return { code: "PEER_UNAVAILABLE", message: "the other party left the pairing" };
}
