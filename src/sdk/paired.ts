/**
 * Reaching a process behind NAT: a description whose path is punch or relay carries the
 * rendezvous address and a single-use dialer ticket (from `POST .../connect`); pairing yields a
 * punched or relayed socket, on which the usual HELLO + token handshake then runs.
 */
import type { Socket } from "node:net";
import { PraaSError, type ConnectionInfo } from "../protocol/index.js";
import { pairAndConnect } from "../rendezvous/index.js";

/** `{ socket }` to hand to the handshake for a process behind NAT; `{}` for a direct one. */
export async function pairedSocketOption(info: ConnectionInfo): Promise<{ socket?: Socket }> {
  if (info.path === undefined || info.path === "direct") return {};
  if (info.rendezvous === undefined || info.ticket === undefined) {
    const why = "is behind NAT: its description needs a rendezvous and a ticket (POST …/connect)";
    throw new PraaSError("BAD_REQUEST", `the process ${why}`);
  }
  const { rendezvous, ticket } = info;
  const paired = await pairAndConnect({ rendezvous, ticket, relayOnly: info.path === "relay" });
  return { socket: paired.socket };
}
