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
  ensurePraaSError,
  toBytes,
  type ConnectionInfo,
  type SerializeSetting,
  type Frame,
  type Value,
} from "../protocol/index.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, connectFrameLink, type FrameLink } from "../transport/index.js";
import { pairedSocketOption } from "./paired.js";

type Dialled = Awaited<ReturnType<typeof connectFrameLink>>;

/** Links the process said it is closing (an ERROR with id 0): the next call dials again. */
const goingAway = new WeakSet<FrameLink>();

/** How long a going-away link may take to answer the PING that settles its lost calls. */
const LOST_CALLS_MS = 10_000;

function onServerNotice(frame: Frame, link: FrameLink): void {
  if (frame.type !== FrameType.Error || frame.id !== 0) return;
  goingAway.add(link);
  closeWhenDone(link);
  if (!link.closed) failLostCalls(link);
}

/**
 * The process answers what a dead worker left on the link, in order, and a PING after all of
 * it: a call still unanswered then was read by the worker, which died before it could say so.
 */
function failLostCalls(link: FrameLink): void {
  const lost = new PraaSError(
    "WORKER_CRASHED",
    "the worker serving this connection died while the call was in flight",
  );
  const settle = (): void => link.destroy(lost);
  link.request(FrameType.Ping, undefined, undefined, LOST_CALLS_MS).then(settle, settle);
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
  readonly process: string;
  readonly application: string;
  /** Open links, one per worker at most; the process hands each to a different worker. */
  #links: FrameLink[];
  /** How many links calls may spread over (WELCOME says how many workers serve). */
  readonly #spread: number;
  /** Functions whose calls stay on the first link, in the order made (WELCOME says which). */
  readonly #serialized: SerializeSetting;
  readonly #dial: () => Promise<Dialled>;
  #dialling: Promise<FrameLink> | undefined;
  #closedByUs = false;

  private constructor(first: Dialled, dial: () => Promise<Dialled>, spread: number) {
    this.#links = [first.link];
    this.#serialized = first.welcome.serialize;
    this.#dial = dial;
    this.#spread = spread;
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
    const first = await dial();
    // A NAT'd process is paired once per ticket: its one connection carries every call.
    const direct = info.path === undefined || info.path === "direct";
    return new ProcessConnection(first, dial, direct ? first.welcome.workers : 1);
  }

  /** Invokes `functionName` with `payload`; resolves to the result bytes, rejects with a PraaSError. */
  async invoke(functionName: string, payload: Value = new Uint8Array(0)): Promise<Uint8Array> {
    return await this.#send(functionName, toBytes(payload), true);
  }

  async #send(functionName: string, payload: Uint8Array, mayResend: boolean): Promise<Uint8Array> {
    // Picked in this tick when a link is free, so that calls made together see each other.
    const link = this.#isSerialized(functionName)
      ? (this.#first() ?? (await this.#more()))
      : (this.#pickNow() ?? (await this.#pickLater()));
    try {
      const reply = await link.request(FrameType.Invoke, encodeFields([functionName]), payload);
      return reply.payload;
    } catch (error) {
      // Refused by a worker on its way out (replaced, or the process stopping): the call never
      // ran, so it goes once more on a fresh link, if one can be had.
      if (!mayResend || !refusedLeaving(link, error)) throw error;
      return await this.#send(functionName, payload, false).catch(() => {
        throw error;
      });
    } finally {
      closeWhenDone(link);
    }
  }

  /**
   * The link with the fewest calls in flight. When every link is busy and the process has
   * more workers than we have links, one more is dialled first (the process hands it to
   * another worker); when none is left (its worker died), one is dialled again.
   */
  /**
   * Calls of a serialized function queue at the process's input gate: sent on one link (one
   * worker passes them on in turn), they queue there in the order they were made.
   */
  #isSerialized(functionName: string): boolean {
    const setting = this.#serialized;
    return typeof setting === "boolean" ? setting : setting.includes(functionName);
  }

  #first(): FrameLink | undefined {
    if (this.#closedByUs) throw new PraaSError("CONNECTION_CLOSED", "the connection is closed");
    this.#links = this.#links.filter(usable);
    return this.#links[0];
  }

  #pickNow(): FrameLink | undefined {
    if (this.#closedByUs) throw new PraaSError("CONNECTION_CLOSED", "the connection is closed");
    this.#links = this.#links.filter(usable);
    const idlest = leastPending(this.#links);
    if (idlest === undefined) return undefined;
    if (idlest.pendingCount === 0 || this.#links.length >= this.#spread) return idlest;
    return undefined;
  }

  async #pickLater(): Promise<FrameLink> {
    if (this.#links.length === 0) return await this.#more();
    // One more link is a bonus: if it cannot be had, the busy ones serve. Picked only after the
    // dial: a link that went away meanwhile must not get the call (it would follow the PING
    // that settles the link's lost calls, and count as lost).
    const failed = await this.#more().then(
      () => undefined,
      (error: unknown) => ensurePraaSError(error),
    );
    const best = leastPending(this.#links.filter(usable));
    if (best !== undefined) return best;
    throw failed ?? new PraaSError("UNAVAILABLE", "the process closed the connection");
  }

  /** Dials one more link, once for every caller waiting. */
  #more(): Promise<FrameLink> {
    this.#dialling ??= this.#dial().then(
      ({ link }) => {
        this.#dialling = undefined;
        if (this.#closedByUs) {
          link.destroy();
          throw new PraaSError("CONNECTION_CLOSED", "the connection is closed");
        }
        this.#links.push(link);
        return link;
      },
      (error: unknown) => {
        this.#dialling = undefined;
        throw error;
      },
    );
    return this.#dialling;
  }

  /** Whether no link is up now (the next call dials again unless `close()` was called). */
  get closed(): boolean {
    return this.#closedByUs || !this.#links.some(usable);
  }

  /** Invocations in flight on this connection. */
  get pending(): number {
    return this.#links.reduce((sum, link) => sum + link.pendingCount, 0);
  }

  close(): Promise<void> {
    this.#closedByUs = true;
    const open = this.#links.filter((link) => !link.closed);
    return Promise.all(open.map(closeLink)).then(() => undefined);
  }
}

/** A refusal that says the call never ran, on a link the process said is going away. */
function refusedLeaving(link: FrameLink, error: unknown): boolean {
  const refused = error instanceof PraaSError && error.code === "UNAVAILABLE";
  return refused && error.errorName === undefined && goingAway.has(link);
}

function usable(link: FrameLink): boolean {
  return !link.closed && !goingAway.has(link);
}

function leastPending(links: readonly FrameLink[]): FrameLink | undefined {
  let best: FrameLink | undefined;
  for (const link of links) if (!best || link.pendingCount < best.pendingCount) best = link;
  return best;
}

function closeLink(link: FrameLink): Promise<void> {
  return new Promise((resolve) => {
    link.socket.once("close", () => resolve());
    link.close();
  });
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
