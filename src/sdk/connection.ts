/**
 * A direct data-plane connection to one cloud process: no control-plane hop per call. Many
 * invocations may be in flight at once; replies are matched by request id.
 */
import {
  FrameType,
  PraaSError,
  encodeFields,
  toBytes,
  type ConnectionInfo,
  type Value,
} from "../protocol/index.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, connectFrameLink, type FrameLink } from "../transport/index.js";
import { pairedSocketOption } from "./paired.js";

/** What the control plane returns for an active process, and all a client needs to dial it. */
export type { ConnectionInfo } from "../protocol/index.js";

export interface ConnectOptions {
  /** Largest result accepted; default 64 MiB. */
  maxPayloadBytes?: number;
  /** Connect + handshake deadline; default 10 s. */
  timeoutMs?: number;
  /**
   * How the connection introduces itself in its handshake; default none. The control plane's
   * own connections say CONTROL_PLANE_CLIENT: unlike a client's, they do not keep the process
   * from being swapped out when idle.
   */
  name?: string;
}

export class ProcessConnection {
  readonly #link: FrameLink;
  readonly process: string;
  readonly application: string;

  private constructor(link: FrameLink, process: string, application: string) {
    this.#link = link;
    this.process = process;
    this.application = application;
  }

  static async open(
    info: ConnectionInfo,
    options: ConnectOptions = {},
  ): Promise<ProcessConnection> {
    const { link, welcome } = await connectFrameLink({
      ...(await pairedSocketOption(info)),
      host: info.host,
      port: info.port,
      token: info.token,
      maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.name === undefined ? {} : { name: options.name }),
    });
    return new ProcessConnection(link, welcome.process, welcome.application);
  }

  /** Invokes `functionName` with `payload`; resolves to the result bytes, rejects with a PraaSError. */
  async invoke(functionName: string, payload: Value = new Uint8Array(0)): Promise<Uint8Array> {
    if (this.#link.closed) throw new PraaSError("CONNECTION_CLOSED", "the connection is closed");
    const reply = await this.#link.request(
      FrameType.Invoke,
      encodeFields([functionName]),
      toBytes(payload),
    );
    return reply.payload;
  }

  get closed(): boolean {
    return this.#link.closed;
  }

  /** Invocations in flight on this connection. */
  get pending(): number {
    return this.#link.pendingCount;
  }

  close(): Promise<void> {
    if (this.#link.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#link.socket.once("close", () => resolve());
      this.#link.close();
    });
  }
}

/**
 * Opens a direct connection from a `{ host, port, token }` description (for a process behind
 * NAT, one with a fresh ticket: paired through the rendezvous first).
 */
export function connect(
  info: ConnectionInfo,
  options?: ConnectOptions,
): Promise<ProcessConnection> {
  return ProcessConnection.open(info, options);
}
