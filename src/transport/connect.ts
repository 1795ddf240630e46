/** Dialling a PraaS data-plane endpoint: TCP connect, HELLO, wait for WELCOME. */
import net from "node:net";
import {
  FrameType,
  PraaSError,
  encodeFields,
  helloFields,
  parseWelcome,
  type Frame,
  type PeerRole,
  type Welcome,
} from "../protocol/index.js";
import { FrameLink } from "./frame-link.js";

export interface ConnectOptions {
  host: string;
  port: number;
  token: string;
  role?: PeerRole;
  /** The connecting process's name, for role "peer". */
  name?: string;
  /** The application's peer secret, for role "peer". */
  peerSecret?: string;
  maxPayloadBytes?: number;
  timeoutMs?: number;
  /** Requests the other side sends us (a peer may send mailbox messages back). */
  onRequest?: (frame: Frame, link: FrameLink) => void;
  onClose?: (error: PraaSError | undefined) => void;
  /**
   * An already-connected socket to run the handshake on (a punched or relayed one from a
   * rendezvous pairing) instead of dialling host:port.
   */
  socket?: net.Socket;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export async function connectFrameLink(
  options: ConnectOptions,
): Promise<{ link: FrameLink; welcome: Welcome }> {
  const socket =
    options.socket ?? (await openSocket(options.host, options.port, options.timeoutMs ?? 10_000));
  const link = new FrameLink(socket, {
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    onRequest: options.onRequest ?? refuseRequest,
    ...(options.onClose ? { onClose: options.onClose } : {}),
  });
  const hello = helloFields({
    token: options.token,
    role: options.role ?? "client",
    name: options.name ?? "",
    peerSecret: options.peerSecret ?? "",
  });
  try {
    const reply = await link.request(
      FrameType.Hello,
      encodeFields(hello),
      undefined,
      options.timeoutMs ?? 10_000,
    );
    return { link, welcome: parseWelcome(reply.meta) };
  } catch (error) {
    link.destroy();
    throw handshakeError(error, options);
  }
}

/**
 * The connection closing before WELCOME (the process exiting, a listener closing with our
 * connection in its backlog) is a dial that failed: nothing was sent on it, so nothing ran.
 */
function handshakeError(error: unknown, { host, port }: ConnectOptions): unknown {
  if (!(error instanceof PraaSError) || error.code !== "CONNECTION_CLOSED") return error;
  const message = `${host}:${port} closed the connection before it was set up: ${error.message}`;
  return new PraaSError("PEER_UNAVAILABLE", message, { cause: error });
}

/** Opens a TCP connection with a deadline; failures are PEER_UNAVAILABLE errors. */
export function openSocket(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new PraaSError("PEER_UNAVAILABLE", `connect to ${host}:${port} timed out`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      const message = `cannot reach ${host}:${port}: ${error.message}`;
      reject(new PraaSError("PEER_UNAVAILABLE", message, { cause: error }));
    });
  });
}

/** Whether dialling failed because nothing listens there (the endpoint refused the connection). */
export function connectionRefused(error: unknown): boolean {
  if (!(error instanceof PraaSError) || error.code !== "PEER_UNAVAILABLE") return false;
  return (error.cause as NodeJS.ErrnoException | undefined)?.code === "ECONNREFUSED";
}

/**
 * A request we do not serve is refused; a notice (id 0, e.g. the process saying it is going
 * away) needs no answer, and answering one would only bounce a notice back.
 */
export function refuseRequest(frame: Frame, link: FrameLink): void {
  if (frame.id === 0) return;
  link.replyError(
    frame.id,
    new PraaSError("PROTOCOL_ERROR", `unexpected frame type ${frame.type}`),
  );
}
