/**
 * NAT traversal on the control plane's side: it holds the ticket secret, hosts a rendezvous
 * server when configured to (else clients and processes pair at an external one), and issues
 * the two halves of a pairing: the listener's ticket goes to the process over its control
 * link, the dialer's to the authorised client or peer that asked. Pairing ids are random,
 * tickets single use and short-lived. Pairings, outcomes, relay bytes and establish times of a
 * hosted server are Prometheus metrics on the control plane's /metrics.
 */
import { randomBytes } from "node:crypto";
import { Counter, Histogram, type Registry } from "prom-client";
import {
  issueTicket,
  type PeerTicket,
  type RendezvousAddress,
  type RendezvousRole,
} from "../protocol/index.js";
import { RendezvousServer, type RendezvousObserver } from "../rendezvous/index.js";
import type { RendezvousSettings } from "./config.js";

/** Both halves of one pairing. */
export interface PairingTickets {
  rendezvous: RendezvousAddress;
  listener: string;
  dialer: string;
}

export class NatTraversal {
  readonly #settings: RendezvousSettings;
  readonly #server: RendezvousServer | undefined;
  readonly #address: RendezvousAddress;
  readonly #issued: Counter;

  private constructor(
    settings: RendezvousSettings,
    server: RendezvousServer | undefined,
    address: RendezvousAddress,
    registry: Registry,
  ) {
    this.#settings = settings;
    this.#server = server;
    this.#address = address;
    this.#issued = new Counter({
      name: "praas_rendezvous_tickets_issued_total",
      help: "Pairings the control plane issued tickets for (a client or a peer asked to connect)",
      registers: [registry],
    });
  }

  /** Starts the hosted rendezvous server, if any; `advertiseHost` stands in for 0.0.0.0. */
  static async start(
    settings: RendezvousSettings,
    advertiseHost: string,
    registry: Registry,
  ): Promise<NatTraversal> {
    const server =
      settings.listen &&
      (await RendezvousServer.start(
        { ...settings.listen, secret: settings.secret },
        rendezvousMetrics(registry),
      ));
    const address = settings.address
      ? parseAddress(settings.address)
      : listenAddress(server, advertiseHost);
    return new NatTraversal(settings, server, address, registry);
  }

  /** Where clients and processes pair. */
  get address(): RendezvousAddress {
    return { ...this.#address };
  }

  /** The hosted server's counters (undefined when the rendezvous is external). */
  counters(): ReturnType<RendezvousServer["counters"]> | undefined {
    return this.#server?.counters();
  }

  /** A fresh pairing: random id, both tickets valid for the configured lifetime. */
  issue(): PairingTickets {
    const pairingId = randomBytes(18).toString("base64url");
    const expiresAt = Date.now() + this.#settings.ticketTtlMs;
    const ticket = (role: RendezvousRole): string =>
      issueTicket(this.#settings.secret, { pairingId, role, expiresAt });
    this.#issued.inc();
    return { rendezvous: this.address, listener: ticket("listener"), dialer: ticket("dialer") };
  }

  /** The dialer's half of a pairing whose listener half `tellProcess` delivered. */
  async dialerTicket(tellProcess: (pair: PeerTicket) => Promise<void>): Promise<PeerTicket> {
    const { rendezvous, listener, dialer } = this.issue();
    await tellProcess({ rendezvous, ticket: listener });
    return { rendezvous, ticket: dialer };
  }

  async close(): Promise<void> {
    await this.#server?.close();
  }
}

function listenAddress(
  server: RendezvousServer | undefined,
  advertiseHost: string,
): RendezvousAddress {
  if (!server) throw new Error("unreachable: a rendezvous is hosted or has an address");
  const { host, port } = server.address;
  return { host: host === "0.0.0.0" || host === "::" ? advertiseHost : host, port };
}

function parseAddress(text: string): RendezvousAddress {
  const colon = text.lastIndexOf(":");
  return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) };
}

/** The hosted server's events as Prometheus metrics. */
function rendezvousMetrics(registry: Registry): RendezvousObserver {
  const registers = [registry];
  const pairings = new Counter({
    name: "praas_rendezvous_pairings_total",
    help: "Pairings where both parties came to the rendezvous",
    registers,
  });
  const outcomes = new Counter({
    name: "praas_rendezvous_outcomes_total",
    help: "Pairings by outcome: punched (direct TCP), relayed, failed",
    labelNames: ["outcome"] as const,
    registers,
  });
  const relayBytes = new Counter({
    name: "praas_rendezvous_relay_bytes_total",
    help: "Bytes the relay carried, both directions",
    registers,
  });
  const establish = new Histogram({
    name: "praas_rendezvous_establish_seconds",
    help: "From both parties paired to the path decided, by path",
    labelNames: ["path"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  for (const outcome of ["punched", "relayed", "failed"]) outcomes.inc({ outcome }, 0);
  return {
    paired: () => pairings.inc(),
    established: (path, ms) => {
      outcomes.inc({ outcome: path === "punch" ? "punched" : "relayed" });
      establish.observe({ path }, ms / 1000);
    },
    failed: () => outcomes.inc({ outcome: "failed" }),
    relayBytes: (count) => relayBytes.inc(count),
  };
}
