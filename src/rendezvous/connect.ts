/**
 * The party side of the rendezvous: pair with the other party, try a direct TCP connection by
 * simultaneous open (both sides connect to each other's public address from the local port the
 * rendezvous observed, so each NAT sees an outgoing connection and lets the other's SYN in),
 * and fall back to the relay. The returned socket is used exactly like a direct connection; the
 * data-plane handshake (HELLO + token) runs on top of it, so authentication does not change.
 *
 * Both parties run this (role "listener" for the process, "dialer" for the client). Simultaneous
 * open yields ONE connection seen by both sides' connect(); no side listens, so there is never a
 * second, accepted socket to choose from. Whether a punch counts is decided by the rendezvous
 * from both reports, so both sides always agree on the path even when one side's connect
 * succeeds just as the other gives up.
 */
import net, { type Socket } from "node:net";

import {
  FrameType,
  PraaSError,
  parseConnectionPath,
  parsePeerAddress,
  type ConnectionPath,
  type PeerAddress,
} from "../protocol/index.js";
import { FrameReader } from "./frame-reader.js";
import { expectFrame, writeFrame } from "./wire.js";

export interface PairAndConnectOptions {
  rendezvous: PeerAddress;
  ticket: string;
  /** How long to try simultaneous open before asking for the relay. */
  punchTimeoutMs?: number;
  /** How long to wait for the other party at the rendezvous. */
  pairTimeoutMs?: number;
  /**
   * Skip the punch and ask for the relay at once: for a process registered as reachable only
   * by relay (both sides know it, so neither waits out a punch that cannot work).
   */
  relayOnly?: boolean;
}

export interface PairedConnection {
  socket: Socket;
  path: ConnectionPath;
  /** The other party's public address, as the rendezvous saw it. */
  peer: PeerAddress;
}

const PAIR_REQUEST_ID = 1;
const OUTCOME_REQUEST_ID = 2;
/** Pause between punch attempts after a refusal (the other side's SYN was not out yet). */
const PUNCH_RETRY_MS = 20;
/** The rendezvous waits for both outcomes; the other side may punch this long. */
const DECISION_SLACK_MS = 10_000;

export async function pairAndConnect(options: PairAndConnectOptions): Promise<PairedConnection> {
  const punchTimeoutMs = options.punchTimeoutMs ?? 2_000;
  const pairTimeoutMs = options.pairTimeoutMs ?? 15_000;
  const rendezvous = await openRendezvous(options.rendezvous, pairTimeoutMs);
  const reader = new FrameReader(rendezvous);
  let punched: Socket | undefined;
  try {
    writeFrame(rendezvous, FrameType.Pair, PAIR_REQUEST_ID, [options.ticket]);
    const pairing = await reader.next(pairTimeoutMs, "peer from the rendezvous");
    const peer = parsePeerAddress(expectFrame(pairing, FrameType.Result));
    punched = options.relayOnly ? undefined : await punch(peer, rendezvous, punchTimeoutMs);
    const outcome = punched ? "punched" : "failed";
    writeFrame(rendezvous, FrameType.Outcome, OUTCOME_REQUEST_ID, [outcome]);
    const answer = await reader.next(punchTimeoutMs + DECISION_SLACK_MS, "path decision");
    const path = parseConnectionPath(expectFrame(answer, FrameType.Result));
    return { socket: await chosenSocket(path, punched, rendezvous, reader), path, peer };
  } catch (error) {
    punched?.destroy();
    rendezvous.destroy();
    throw error;
  }
}

/**
 * Binding explicitly (any address, ephemeral port) makes libuv set SO_REUSEADDR on the socket,
 * which lets the punch attempts bind the same local port while this connection is open.
 */
function openRendezvous(address: PeerAddress, timeoutMs: number): Promise<Socket> {
  const localAddress = anyAddress(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ ...address, localAddress, noDelay: true });
    const timer = setTimeout(() => socket.destroy(unreachable(address, "timed out")), timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    // Stays on: later errors reach the frame reader as a closed connection.
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(unreachable(address, error.message));
    });
  });
}

function anyAddress(address: PeerAddress): string {
  return net.isIPv6(address.host) ? "::" : "0.0.0.0";
}

function unreachable(address: PeerAddress, why: string): PraaSError {
  return new PraaSError("PEER_UNAVAILABLE", `rendezvous ${address.host}:${address.port}: ${why}`);
}

async function chosenSocket(
  path: ConnectionPath,
  punched: Socket | undefined,
  rendezvous: Socket,
  reader: FrameReader,
): Promise<Socket> {
  if (path === "punch") {
    if (punched === undefined) throw new PraaSError("INTERNAL", "punch chosen without one");
    rendezvous.end();
    return handOver(punched);
  }
  punched?.destroy();
  await reader.release();
  return handOver(rendezvous);
}

/** The caller owns the socket's errors from here on, as with any socket it opened itself. */
function handOver(socket: Socket): Socket {
  socket.removeAllListeners("error");
  return socket;
}

async function punch(
  peer: PeerAddress,
  rendezvous: Socket,
  timeoutMs: number,
): Promise<Socket | undefined> {
  const local = { localAddress: anyAddress(peer), localPort: rendezvous.localPort ?? 0 };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const socket = await punchOnce(peer, local, deadline - Date.now());
    if (socket) return socket;
    await new Promise((resolve) => setTimeout(resolve, PUNCH_RETRY_MS));
  }
  return undefined;
}

/** One connect from the rendezvous port: the socket, or undefined when refused or too slow. */
function punchOnce(
  peer: PeerAddress,
  local: { localAddress: string; localPort: number },
  timeoutMs: number,
): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: peer.host, port: peer.port, noDelay: true, ...local });
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    let settled = false;
    const finish = (result: Socket | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners("connect");
      if (result === undefined) socket.destroy();
      resolve(result);
    };
    socket.once("connect", () => finish(socket));
    socket.on("error", () => finish(undefined));
  });
}
