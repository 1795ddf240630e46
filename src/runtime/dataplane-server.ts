/**
 * The process's data-plane endpoint. A connection must open with HELLO carrying the process
 * token (checked in constant time) within the handshake deadline; then it may pipeline any
 * number of INVOKE frames, answered by id as they finish. Peers (role "peer") may also deliver
 * mailbox messages: a peer must present the application's peer secret, which only processes
 * hold (clients get the token, never the secret), and its messages carry the name it gave in
 * HELLO, so no connection can post under another process's name. Garbage closes only the
 * connection that sent it.
 *
 * Limits: authenticated connections past `maxConnections` get TOO_MANY_REQUESTS in answer to
 * HELLO and are closed. Connections that have not completed HELLO do not count there: they are
 * held apart, at most MAX_PENDING_CONNECTIONS (past it the oldest is closed) and each for at
 * most HELLO_TIMEOUT_MS, so sockets that never authenticate cannot lock token holders out.
 * Frames before HELLO are capped at `maxHelloBytes` (one past it: PAYLOAD_TOO_LARGE and the
 * connection is closed); invocations past `maxInflightPerConnection` on one
 * connection get TOO_MANY_REQUESTS. A connection is not read while its unsent replies pass
 * `writeBacklogBytes` or the payloads of its unanswered invocations pass
 * `maxInflightBytesPerConnection`: a client that sends without reading fills its own kernel
 * buffers, not our memory.
 */
import net from "node:net";
import {
  FrameType,
  PraaSError,
  assertKey,
  assertName,
  encodeFields,
  ensurePraaSError,
  expectFields,
  parseHello,
  secretsEqual,
  welcomeFields,
  type ConnectionCounts,
  type Frame,
  type Hello,
  type ProcessReach,
  type SerializeSetting,
} from "../protocol/index.js";
import {
  FrameLink,
  STOPPING,
  callsAnswered,
  canStopKernelReads,
  pingAfterCalls,
  sayGoodbye,
  waitUpTo,
  type CallsOnLink,
} from "../transport/index.js";

/**
 * How long a connection may take to complete HELLO. A client sends HELLO as soon as it is
 * connected, so this only has to cover a slow network; a socket that says nothing is closed.
 */
const HELLO_TIMEOUT_MS = 5_000;
/**
 * Connections not yet past HELLO, at most. Each holds at most one partial frame (`maxHelloBytes`
 * of payload, up to 64 KiB of metadata), so this also bounds what strangers make us buffer.
 */
const MAX_PENDING_CONNECTIONS = 256;

export interface DataPlaneHandler {
  invoke(functionName: string, payload: Buffer): Promise<Buffer>;
  /** A mailbox message from another process. */
  /** Stores a peer's message; a promise: the peer is answered once it settles. */
  deliver(source: string, key: string, value: Buffer): void | Promise<void>;
  /** A connection completed its handshake; the answer runs when it closes. */
  connected?(hello: Hello): () => void;
  /**
   * An authenticated client connection, before WELCOME: serve it elsewhere (a worker takes it
   * from there) and return true, or return false and it is served here. `detach` answers HELLO
   * with WELCOME, stops our reads and returns the bytes read past HELLO; call it only to hand
   * over.
   */
  handOff?(connection: HandedConnection): boolean;
  /** Connections served elsewhere, still open (they count against `maxConnections`). */
  handedOff?(): number;
}

export interface HandedConnection {
  socket: net.Socket;
  hello: Hello;
  detach(): Buffer;
}

export interface DataPlaneOptions {
  application: string;
  process: string;
  token: string;
  /** The application's peer secret; empty: no connection may act as a peer. */
  peerSecret: string;
  maxPayloadBytes: number;
  maxConnections: number;
  maxInflightPerConnection: number;
  maxHelloBytes: number;
  writeBacklogBytes: number;
  maxInflightBytesPerConnection: number;
  /** Workers that serve handed-over connections (WELCOME tells clients, who open one each). */
  workers?: number;
  /** Its serialized functions (WELCOME tells clients, who keep their calls on one connection). */
  serialize?: SerializeSetting;
}

interface HeldSocket {
  socket: net.Socket;
  path: ProcessReach;
}

interface InFlight extends CallsOnLink {
  bytes: number;
  /** How the connection reached us (a punched or relayed one was handed to accept()). */
  path: ProcessReach;
}

export class DataPlaneServer {
  readonly #server: net.Server;
  readonly #options: DataPlaneOptions;
  readonly #handler: DataPlaneHandler;
  /** Authenticated connections, and the invocations (and their payload bytes) in flight on each. */
  readonly #links = new Map<FrameLink, InFlight>();
  /** Connections waiting for HELLO, oldest first. */
  readonly #pending = new Set<FrameLink>();
  #trimScheduled = false;
  /** Runs when the last authenticated connection closed (while closing). */
  #allClosed: (() => void) | undefined;
  /** Connections that arrived between `bind` and `open`, served once it opens. */
  #held: HeldSocket[] | undefined;

  /** `listening`: a listener made ahead (a warm slot's, made with noDelay), to take over. */
  constructor(options: DataPlaneOptions, handler: DataPlaneHandler, listening?: net.Server) {
    this.#options = options;
    this.#handler = handler;
    this.#server = listening ?? net.createServer({ noDelay: true });
    this.#server.removeAllListeners("connection");
    this.#server.on("connection", (socket: net.Socket) => this.accept(socket));
  }

  /** Listens and serves at once. */
  async listen(host: string, port: number): Promise<number> {
    const bound = await this.bind(host, port);
    this.open();
    return bound;
  }

  /**
   * Listens, but holds every connection until `open`: the port is known (and can be
   * registered) while the process is still starting, and nobody is served before it is ready.
   */
  bind(host: string, port: number): Promise<number> {
    this.#held = [];
    if (this.#server.listening) return Promise.resolve(this.#boundPort());
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        resolve(this.#boundPort());
      });
    });
  }

  #boundPort(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Serves the connections held since `bind`, and every later one. */
  open(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const { socket, path } of held) if (!socket.destroyed) this.accept(socket, path);
  }

  get connections(): number {
    return this.#links.size + (this.#handler.handedOff?.() ?? 0);
  }

  /** Open connections by the path each took. */
  connectionCounts(): ConnectionCounts {
    const counts: ConnectionCounts = { direct: 0, punch: 0, relay: 0 };
    for (const { path } of this.#links.values()) counts[path] += 1;
    counts.direct += this.#handler.handedOff?.() ?? 0;
    return counts;
  }

  /**
   * Stops accepting and closes every connection. A connection served here is first told it is
   * going away (a client sends nothing more on it and closes it once its calls are answered)
   * and closed by us only after `lingerMs`: closing it under a call in flight would lose the
   * answer that says the call never ran.
   */
  async close(lingerMs = 0): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const { socket } of this.#held?.splice(0) ?? []) socket.destroy();
    for (const link of this.#pending) link.destroy(STOPPING);
    await this.#sayGoodbye(lingerMs);
    for (const link of this.#links.keys()) link.destroy(STOPPING);
    await closed;
  }

  async #sayGoodbye(lingerMs: number): Promise<void> {
    if (this.#links.size === 0 || lingerMs <= 0) return;
    sayGoodbye(this.#links.keys());
    await waitUpTo(lingerMs, (done) => (this.#allClosed = done));
  }

  /**
   * Serves a connected socket: one the listener accepted, or one a rendezvous pairing produced
   * (punched or relayed), on which the same HELLO + token handshake runs.
   */
  accept(socket: net.Socket, path: ProcessReach = "direct"): void {
    if (this.#held !== undefined) {
      hold(this.#held, socket, path);
      return;
    }
    let peer: Hello | undefined;
    let disconnected: (() => void) | undefined;
    const timer = setTimeout(() => link.destroy(), HELLO_TIMEOUT_MS);
    const link = new FrameLink(socket, {
      // Until HELLO, a stranger may not make us buffer more than this.
      maxPayloadBytes: this.#options.maxHelloBytes,
      writeBacklogBytes: this.#options.writeBacklogBytes,
      onRequest: (frame) => {
        if (peer) return this.#serve(link, peer, frame);
        peer = this.#handshake(link, frame, timer, path);
        if (peer && !link.closed) disconnected = this.#handler.connected?.(peer);
      },
      // Before HELLO the payload would be skipped byte by byte: nothing a stranger sends after
      // it is worth reading, so the error is the last thing this connection gets.
      onOversized: () => {
        if (!peer) link.hangUp();
      },
      onClose: () => {
        clearTimeout(timer);
        this.#pending.delete(link);
        this.#links.delete(link);
        disconnected?.();
        if (this.#links.size === 0) this.#allClosed?.();
      },
    });
    this.#admit(link);
  }

  /** A new connection waits for its HELLO among the pending ones, which are kept bounded. */
  #admit(link: FrameLink): void {
    this.#pending.add(link);
    if (this.#pending.size > MAX_PENDING_CONNECTIONS) this.#scheduleTrim();
  }

  /**
   * Closes the oldest pending connections past the cap at the end of the event loop's next turn
   * rather than at once: a connection accepted before that turn has had its poll phase to be
   * read, so a client whose HELLO came with its connection is authenticated before a burst of
   * strangers accepted after it can push it out (only more than the cap within one turn can).
   */
  #scheduleTrim(): void {
    if (this.#trimScheduled) return;
    this.#trimScheduled = true;
    setImmediate(() => setImmediate(() => this.#trimPending()));
  }

  #trimPending(): void {
    this.#trimScheduled = false;
    for (const link of this.#pending) {
      if (this.#pending.size <= MAX_PENDING_CONNECTIONS) return;
      link.destroy(); // its onClose takes it out of #pending
    }
  }

  #handshake(
    link: FrameLink,
    frame: Frame,
    timer: NodeJS.Timeout,
    path: ProcessReach,
  ): Hello | undefined {
    try {
      if (frame.type !== FrameType.Hello)
        throw new PraaSError("PROTOCOL_ERROR", "expected HELLO first");
      const hello = parseHello(frame.meta);
      if (!secretsEqual(hello.token, this.#options.token)) {
        throw new PraaSError("UNAUTHORIZED", "wrong data-plane token");
      }
      if (hello.role === "peer") this.#checkPeer(hello);
      this.#checkCapacity();
      clearTimeout(timer);
      this.#pending.delete(link);
      this.#links.set(link, { count: 0, bytes: 0, path, pings: [] });
      const fields = welcomeFields({
        process: this.#options.process,
        application: this.#options.application,
        ...(this.#handler.handOff !== undefined && {
          workers: this.#options.workers ?? 1,
          serialize: this.#options.serialize ?? false,
        }),
      });
      // Only connections that came straight to us: a punched or relayed one stays here, so
      // connectionCounts() can tell its path.
      const handing = hello.role === "client" && path === "direct";
      const welcome = (): void => link.send(FrameType.Welcome, frame.id, encodeFields(fields));
      if (handing && this.#handOff(link, hello, welcome)) return hello;
      link.setMaxPayloadBytes(this.#options.maxPayloadBytes);
      welcome();
      return hello;
    } catch (error) {
      link.replyError(
        frame.id,
        error instanceof PraaSError ? error : new PraaSError("PROTOCOL_ERROR", String(error)),
      );
      link.close();
      return undefined;
    }
  }

  /**
   * Offers a client connection to the handler; once detached it is no longer ours. WELCOME
   * leaves from here as it is detached, a hop before the worker could send it: the client's
   * first call is then on its way while the socket travels. Nothing was written on the socket
   * before, so the kernel takes these few bytes at once, ahead of anything the worker writes.
   */
  #handOff(link: FrameLink, hello: Hello, welcome: () => void): boolean {
    if (this.#handler.handOff === undefined || !canStopKernelReads(link.socket)) return false;
    const detach = (): Buffer => {
      this.#links.delete(link);
      welcome();
      link.flush();
      return link.detach();
    };
    return this.#handler.handOff({ hello, socket: link.socket, detach });
  }

  /** Only authenticated connections count: strangers cannot use up the room of token holders. */
  #checkCapacity(): void {
    const limit = this.#options.maxConnections;
    if (this.connections >= limit) {
      throw new PraaSError(
        "TOO_MANY_REQUESTS",
        `the process already has ${limit} open connections`,
      );
    }
  }

  #checkPeer(hello: Hello): void {
    assertName(hello.name, "process");
    const expected = this.#options.peerSecret;
    if (expected === "" || !secretsEqual(hello.peerSecret, expected)) {
      throw new PraaSError(
        "UNAUTHORIZED",
        "only processes of this application may connect as peers",
      );
    }
  }

  #serve(link: FrameLink, peer: Hello, frame: Frame): void {
    switch (frame.type) {
      case FrameType.Invoke:
        return this.#invoke(link, frame);
      case FrameType.PeerPut:
        return this.#deliver(link, peer, frame);
      case FrameType.Ping:
        return pingAfterCalls(link, this.#links.get(link) ?? { count: 0, pings: [] }, frame.id);
      default:
        throw new PraaSError(
          "PROTOCOL_ERROR",
          `unexpected frame type ${frame.type} on the data plane`,
        );
    }
  }

  #invoke(link: FrameLink, frame: Frame): void {
    const [functionName = ""] = expectFields(frame.meta, 1, "invoke");
    const inflight = this.#links.get(link) ?? { count: 0, bytes: 0, path: "direct", pings: [] };
    const limit = this.#options.maxInflightPerConnection;
    if (inflight.count >= limit) {
      const message = `this connection already has ${limit} invocations in flight`;
      throw new PraaSError("TOO_MANY_REQUESTS", message);
    }
    const done = this.#track(link, inflight, frame.payload.length);
    this.#handler.invoke(functionName, frame.payload).then(
      (result) => {
        done();
        link.reply(frame.id, result);
      },
      (error: unknown) => {
        done();
        link.replyError(frame.id, ensurePraaSError(error));
      },
    );
  }

  /** Counts an invocation in flight; past the byte budget, stops reading until it drops. */
  #track(link: FrameLink, inflight: InFlight, bytes: number): () => void {
    const budget = this.#options.maxInflightBytesPerConnection;
    inflight.count++;
    inflight.bytes += bytes;
    if (inflight.bytes > budget) link.pauseReading("inflight");
    return () => {
      inflight.count--;
      inflight.bytes -= bytes;
      if (inflight.bytes <= budget) link.resumeReading("inflight");
      if (inflight.count === 0) callsAnswered(link, inflight);
    };
  }

  #deliver(link: FrameLink, peer: Hello, frame: Frame): void {
    if (peer.role !== "peer")
      throw new PraaSError("PROTOCOL_ERROR", "only processes deliver messages");
    const [key = "", source = ""] = expectFields(frame.meta, 2, "put");
    assertKey(key);
    if (source !== peer.name) {
      throw new PraaSError("UNAUTHORIZED", `process ${peer.name} cannot send as ${source}`);
    }
    const stored = this.#handler.deliver(source, key, frame.payload);
    if (stored === undefined) link.reply(frame.id);
    else
      stored.then(
        () => link.reply(frame.id),
        (error: unknown) => link.replyError(frame.id, ensurePraaSError(error)),
      );
  }
}

/**
 * Before `open`, a connection is kept unread. They count as pending: at most
 * MAX_PENDING_CONNECTIONS, the oldest closed past that.
 */
function hold(held: HeldSocket[], socket: net.Socket, path: ProcessReach): void {
  socket.on("error", () => socket.destroy()); // a reset while held must not throw
  held.push({ socket, path });
  if (held.length > MAX_PENDING_CONNECTIONS) held.shift()?.socket.destroy();
}
