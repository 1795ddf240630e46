/**
 * The process's half of a rendezvous pairing: the control plane issued a client or peer a
 * dialer ticket and sent us the listener's (`pair` command). We pair in the background and hand
 * the punched or relayed socket to the data plane, where the usual HELLO + token handshake runs,
 * so a paired connection is authenticated exactly like a direct one.
 */
import type { Socket } from "node:net";
import type { Logger } from "pino";
import type { PairCommand, ProcessReach } from "../protocol/index.js";
import { pairAndConnect } from "../rendezvous/index.js";

export interface PairedConnectionSink {
  readonly config: { readonly reach: ProcessReach };
  acceptPaired(socket: Socket, path: ProcessReach): void;
}

/** Joins the pairing without waiting: the dialer gets its ticket only once we answered. */
export function joinPairing(command: PairCommand, sink: PairedConnectionSink, log: Logger): void {
  const relayOnly = sink.config.reach === "relay";
  pairAndConnect({ rendezvous: command.rendezvous, ticket: command.ticket, relayOnly }).then(
    ({ socket, path }) => sink.acceptPaired(socket, path),
    (error: unknown) => log.warn({ err: String(error) }, "rendezvous pairing failed"),
  );
}
