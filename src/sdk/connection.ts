/**
 * A direct data-plane connection to one cloud process: no control-plane hop per call. Many
 * invocations may be in flight at once; replies are matched by request id.
 *
 * The process hands the connection to one of its workers, which serves it: when that worker
 * dies, the calls in flight fail (WORKER_CRASHED, OUT_OF_MEMORY or TIMEOUT, as the process
 * says) and the connection drops. The next call dials again, until `close()`.
 */
import {
  FrameType,
  PraaSError,
  encodeFields,
  toBytes,
  type ConnectionInfo,
  type Frame,
  type Value,
} from "../protocol/index.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, connectFrameLink, type FrameLink } from "../transport/index.js";
import { pairedSocketOption } from "./paired.js";

type Dialled = Awaited<ReturnType<typeof connectFrameLink>>;

/** Links the process said it is closing (an ERROR with id 0): the next call dials again. */
const goingAway = new WeakSet<FrameLink>();

function onServerNotice(frame: Frame, link: FrameLink): void {
  if (frame.type !== FrameType.Error || frame.id !== 0) return;
  goingAway.add(link);
  closeWhenDone(link);
}

/** A link going away is closed by us once the answers it still owes have come. */
function closeWhenDone(link: FrameLink): void {
  if (goingAway.has(link) && link.pendingCount === 0) link.close();
}

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
  #link: FrameLink;
  readonly process: string;
  readonly application: string;
  readonly #dial: () => Promise<Dialled>;
  #redial: Promise<FrameLink> | undefined;
  #closedByUs = false;

  private constructor(first: Dialled, dial: () => Promise<Dialled>) {
    this.#link = first.link;
    this.#dial = dial;
    this.process = first.welcome.process;
    this.application = first.welcome.application;
  }

  static async open(
    info: ConnectionInfo,
    options: ConnectOptions = {},
  ): Promise<ProcessConnection> {
    const dial = async (): Promise<Dialled> =>
      connectFrameLink({
        ...(await pairedSocketOption(info)),
        host: info.host,
        port: info.port,
        token: info.token,
        maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
        onRequest: onServerNotice,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.name === undefined ? {} : { name: options.name }),
      });
    return new ProcessConnection(await dial(), dial);
  }

  /** Invokes `functionName` with `payload`; resolves to the result bytes, rejects with a PraaSError. */
  async invoke(functionName: string, payload: Value = new Uint8Array(0)): Promise<Uint8Array> {
    const link = this.closed ? await this.#reopen() : this.#link;
    try {
      const reply = await link.request(
        FrameType.Invoke,
        encodeFields([functionName]),
        toBytes(payload),
      );
      return reply.payload;
    } finally {
      closeWhenDone(link);
    }
  }

  /** The link dropped (its worker died, say): dial again, once for every caller waiting. */
  #reopen(): Promise<FrameLink> {
    if (this.#closedByUs)
      return Promise.reject(new PraaSError("CONNECTION_CLOSED", "the connection is closed"));
    this.#redial ??= this.#dial().then(
      ({ link }) => {
        this.#redial = undefined;
        if (this.#closedByUs) {
          link.destroy();
          throw new PraaSError("CONNECTION_CLOSED", "the connection is closed");
        }
        this.#link = link;
        return link;
      },
      (error: unknown) => {
        this.#redial = undefined;
        throw error;
      },
    );
    return this.#redial;
  }

  /** Whether the link is down now (the next call dials again unless `close()` was called). */
  get closed(): boolean {
    return this.#link.closed || goingAway.has(this.#link);
  }

  /** Invocations in flight on this connection. */
  get pending(): number {
    return this.#link.pendingCount;
  }

  close(): Promise<void> {
    this.#closedByUs = true;
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
