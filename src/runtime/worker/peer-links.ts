/**
 * A worker's own data-plane connections to the other processes of its application, so a
 * message (`ctx.put`) or a call (`ctx.invoke` with `process`) reaches the peer process in one
 * socket hop instead of passing through this worker's process first.
 *
 * The process opens each connection (it knows where peers are, brings swapped ones back, and
 * holds the application's peer secret, which user code must never see), authenticates it as
 * itself, and hands the socket over on the IPC channel. The peer binds the connection to our
 * process's name at the handshake, so nothing sent on it can claim another sender. A peer
 * reached only by pairing through the rendezvous stays with the process: the worker is told to
 * go through it, and does so from then on (one route per peer keeps its messages in order).
 */
import type { Socket } from "node:net";
import { FrameType, PraaSError, encodeFields, type ErrorRecord } from "../../protocol/index.js";
import { FrameLink, idlestRoute, refuseRequest, touchRoute } from "../../transport/index.js";

/** How long a worker waits for its process to open a peer connection. */
const ANSWER_TIMEOUT_MS = 60_000;
/**
 * Peer connections a worker keeps: past this many, the least recently used idle one is closed
 * (a function that messages thousands of processes must not run the worker out of descriptors).
 */
export const MAX_PEER_LINKS = 64;

/** Worker → process, on the IPC channel: open a connection to `peer` for me. */
export interface PeerLinkRequest {
  kind: "praas-peer-request";
  id: number;
  peer: string;
}

/** Process → worker: the connection (with its socket), or why not, or "go through me". */
export interface PeerLinkAnswer {
  kind: "praas-peer";
  id: number;
  /** Bytes read past the handshake, base64. */
  rest?: string;
  error?: ErrorRecord;
  throughProcess?: boolean;
}

/** Process → worker: `peer` moved or left; a connection to it leads to the old place. */
export interface PeerMoved {
  kind: "praas-peer-moved";
  peer: string;
}

export function isPeerMoved(message: unknown): message is PeerMoved {
  const notice = message as Partial<PeerMoved> | null;
  return notice?.kind === "praas-peer-moved" && typeof notice.peer === "string";
}

export function isPeerLinkRequest(message: unknown): message is PeerLinkRequest {
  const request = message as Partial<PeerLinkRequest> | null;
  return request?.kind === "praas-peer-request" && typeof request.peer === "string";
}

export function isPeerLinkAnswer(message: unknown): message is PeerLinkAnswer {
  return (message as Partial<PeerLinkAnswer> | null)?.kind === "praas-peer";
}

/** A connection to a peer, or undefined: go through the process. */
type Route = FrameLink | undefined;

export class PeerLinks {
  /** Least recently used first. */
  readonly #routes = new Map<string, Promise<Route>>();
  /** The open connections among them. */
  readonly #links = new Map<string, FrameLink>();
  readonly #waiting = new Map<number, (answer: PeerLinkAnswer, socket?: Socket) => void>();
  #requests = 0;

  constructor(
    readonly send: (request: PeerLinkRequest) => void,
    readonly maxPayloadBytes: number,
  ) {}

  /** Sends a mailbox message; false when it must go through the process. */
  async put(self: string, peer: string, key: string, value: Uint8Array): Promise<boolean> {
    const link = await this.#route(peer);
    if (link === undefined) return false;
    await link.request(FrameType.PeerPut, encodeFields([key, self]), value);
    return true;
  }

  /** Runs a function in the peer; undefined when the call must go through the process. */
  async invoke(peer: string, fn: string, payload: Uint8Array): Promise<Uint8Array | undefined> {
    const link = await this.#route(peer);
    if (link === undefined) return undefined;
    return (await link.request(FrameType.Invoke, encodeFields([fn]), payload)).payload;
  }

  /** The process's answer to one of our requests. */
  answered(answer: PeerLinkAnswer, socket?: Socket): void {
    const waiter = this.#waiting.get(answer.id);
    if (waiter === undefined) {
      socket?.destroy();
      return;
    }
    this.#waiting.delete(answer.id);
    waiter(answer, socket);
  }

  /**
   * The peer moved (a new instance elsewhere) or left: the link to where it was is closed (calls
   * still on it fail, as they would through the process), and the next call asks again.
   */
  moved(peer: string): void {
    const route = this.#routes.get(peer);
    this.#routes.delete(peer);
    this.#links.delete(peer);
    void route?.then(
      (link) => link?.close(),
      () => undefined,
    );
  }

  /** One route per peer, shared by every call in order; a failed or closed link is forgotten. */
  #route(peer: string): Promise<Route> {
    let route = this.#routes.get(peer);
    if (route !== undefined) {
      touchRoute(this.#routes, peer, route);
      return route;
    }
    route = this.#open(peer);
    this.#routes.set(peer, route);
    route.catch(() => this.#forget(peer, route));
    if (this.#routes.size > MAX_PEER_LINKS) this.#closeIdlest();
    return route;
  }

  /** Closes the least recently used connection with nothing in flight, if there is one. */
  #closeIdlest(): void {
    const idlest = idlestRoute(this.#routes, this.#links);
    if (idlest !== undefined) this.moved(idlest);
  }

  #open(peer: string): Promise<Route> {
    const id = ++this.#requests;
    return new Promise<Route>((resolve, reject) => {
      // The process answers within its own dial and resume deadlines; this only bounds a lost answer.
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new PraaSError("PEER_UNAVAILABLE", `no connection to process "${peer}" in time`));
      }, ANSWER_TIMEOUT_MS);
      this.#waiting.set(id, (answer, socket) => {
        clearTimeout(timer);
        if (answer.error) reject(PraaSError.fromRecord(answer.error));
        else if (answer.throughProcess === true || socket === undefined) resolve(undefined);
        else resolve(this.#linkOn(peer, socket, answer.rest));
      });
      this.send({ kind: "praas-peer-request", id, peer });
    });
  }

  #linkOn(peer: string, socket: Socket, rest = ""): FrameLink {
    const route = this.#routes.get(peer);
    const link = new FrameLink(socket, {
      maxPayloadBytes: this.maxPayloadBytes,
      onRequest: refuseRequest,
      onClose: () => this.#forget(peer, route),
    });
    if (rest !== "") link.feed(Buffer.from(rest, "base64"));
    if (this.#routes.get(peer) === route) this.#links.set(peer, link);
    return link;
  }

  /** Drops `route` unless a newer one replaced it already. */
  #forget(peer: string, route: Promise<Route> | undefined): void {
    if (this.#routes.get(peer) !== route) return;
    this.#routes.delete(peer);
    this.#links.delete(peer);
  }
}
