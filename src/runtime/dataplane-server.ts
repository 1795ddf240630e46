/**
 * The process's data-plane endpoint. A connection must open with HELLO carrying the process
 * token (checked in constant time) within the handshake deadline; then it may pipeline any
 * number of INVOKE frames, answered by id as they finish. Peers (role "peer") may also deliver
 * mailbox messages: a peer must present the application's peer secret, which only processes
 * hold (clients get the token, never the secret), and its messages carry the name it gave in
 * HELLO, so no connection can post under another process's name. Garbage closes only the
 * connection that sent it.
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
  type Frame,
  type Hello,
} from "../protocol/index.js";
import { FrameLink } from "../transport/index.js";

const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface DataPlaneHandler {
  invoke(functionName: string, payload: Buffer): Promise<Buffer>;
  /** A mailbox message from another process. */
  deliver(source: string, key: string, value: Buffer): void;
}

export interface DataPlaneOptions {
  application: string;
  process: string;
  token: string;
  /** The application's peer secret; empty: no connection may act as a peer. */
  peerSecret: string;
  maxPayloadBytes: number;
}

export class DataPlaneServer {
  readonly #server: net.Server;
  readonly #options: DataPlaneOptions;
  readonly #handler: DataPlaneHandler;
  readonly #links = new Set<FrameLink>();

  constructor(options: DataPlaneOptions, handler: DataPlaneHandler) {
    this.#options = options;
    this.#handler = handler;
    this.#server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        resolve((this.#server.address() as net.AddressInfo).port);
      });
    });
  }

  get connections(): number {
    return this.#links.size;
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const link of this.#links)
      link.destroy(new PraaSError("UNAVAILABLE", "the process is stopping"));
    await closed;
  }

  #accept(socket: net.Socket): void {
    let peer: Hello | undefined;
    const timer = setTimeout(() => link.destroy(), HANDSHAKE_TIMEOUT_MS);
    const link = new FrameLink(socket, {
      maxPayloadBytes: this.#options.maxPayloadBytes,
      onRequest: (frame) => {
        if (peer) this.#serve(link, peer, frame);
        else peer = this.#handshake(link, frame, timer);
      },
      onClose: () => {
        clearTimeout(timer);
        this.#links.delete(link);
      },
    });
    this.#links.add(link);
  }

  #handshake(link: FrameLink, frame: Frame, timer: NodeJS.Timeout): Hello | undefined {
    try {
      if (frame.type !== FrameType.Hello)
        throw new PraaSError("PROTOCOL_ERROR", "expected HELLO first");
      const hello = parseHello(frame.meta);
      if (!secretsEqual(hello.token, this.#options.token)) {
        throw new PraaSError("UNAUTHORIZED", "wrong data-plane token");
      }
      if (hello.role === "peer") this.#checkPeer(hello);
      clearTimeout(timer);
      const fields = welcomeFields({
        process: this.#options.process,
        application: this.#options.application,
      });
      link.send(FrameType.Welcome, frame.id, encodeFields(fields));
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
      default:
        throw new PraaSError(
          "PROTOCOL_ERROR",
          `unexpected frame type ${frame.type} on the data plane`,
        );
    }
  }

  #invoke(link: FrameLink, frame: Frame): void {
    const [functionName = ""] = expectFields(frame.meta, 1, "invoke");
    this.#handler.invoke(functionName, frame.payload).then(
      (result) => link.reply(frame.id, result),
      (error: unknown) => link.replyError(frame.id, ensurePraaSError(error)),
    );
  }

  #deliver(link: FrameLink, peer: Hello, frame: Frame): void {
    if (peer.role !== "peer")
      throw new PraaSError("PROTOCOL_ERROR", "only processes deliver messages");
    const [key = "", source = ""] = expectFields(frame.meta, 2, "put");
    assertKey(key);
    if (source !== peer.name) {
      throw new PraaSError("UNAUTHORIZED", `process ${peer.name} cannot send as ${source}`);
    }
    this.#handler.deliver(source, key, frame.payload);
    link.reply(frame.id);
  }
}
