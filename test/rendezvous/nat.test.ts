/**
 * NAT traversal across real NATs built from network namespaces (test/helpers/netns.ts): a party
 * behind NAT A and one behind NAT B pair at a rendezvous server in the public namespace. With
 * plain MASQUERADE they punch a direct connection (the relay carries nothing); with a symmetric
 * NAT (--random-fully) the punch fails and the relay carries the connection. Root only.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { issueTicket, type RendezvousRole } from "../../src/protocol/index.js";
import type { RendezvousCounters } from "../../src/rendezvous/index.js";
import {
  PUBLIC_HOST,
  buildNatTopology,
  canBuildNamespaces,
  nextJsonLine,
  type NatTopology,
} from "../helpers/netns.js";

const DIST = path.resolve("dist");
const FIXTURES = path.resolve("test/fixtures/rendezvous");
const SECRET = "nat-test-secret-0123456789abcdef";
const ECHO_BYTES = 1024 * 1024;
const LINE_TIMEOUT_MS = 20_000;

interface PartyReport {
  path: "punch" | "relay";
  peer: { host: string; port: number };
  echoed?: number;
  same?: boolean;
}

function nextLine<T>(child: ChildProcess): Promise<T> {
  return nextJsonLine<T>(child, LINE_TIMEOUT_MS);
}

function ticket(pairingId: string, role: RendezvousRole): string {
  return issueTicket(SECRET, { pairingId, role, expiresAt: Date.now() + 60_000 });
}

async function counters(server: ChildProcess): Promise<RendezvousCounters> {
  const reply = nextLine<RendezvousCounters>(server);
  server.stdin!.write("counters\n");
  return reply;
}

/** A listener in private network A and a dialer in B pair and echo 1 MiB through their path. */
async function pairAcrossNats(topology: NatTopology): Promise<{
  listener: PartyReport;
  dialer: PartyReport;
  counters: RendezvousCounters;
}> {
  const ns = topology.namespaces;
  const server = topology.spawnNode(ns.public, [
    `${FIXTURES}/server.mjs`,
    DIST,
    PUBLIC_HOST,
    SECRET,
  ]);
  const { port } = await nextLine<{ port: number }>(server);
  const id = randomBytes(9).toString("base64url");
  const partyArgs = (role: RendezvousRole): string[] => [
    `${FIXTURES}/party.mjs`,
    DIST,
    PUBLIC_HOST,
    String(port),
    ticket(id, role),
    role,
    String(ECHO_BYTES),
  ];
  const listenerChild = topology.spawnNode(ns.hostA, partyArgs("listener"));
  const dialerChild = topology.spawnNode(ns.hostB, partyArgs("dialer"));
  const [listener, dialer] = await Promise.all([
    nextLine<PartyReport>(listenerChild),
    nextLine<PartyReport>(dialerChild),
  ]);
  return { listener, dialer, counters: await counters(server) };
}

describe.skipIf(!canBuildNamespaces())("NAT traversal across network namespaces", () => {
  it("punches a direct connection through two NATs: the relay carries nothing", async () => {
    const topology = buildNatTopology({ symmetric: false });
    try {
      const { listener, dialer, counters } = await pairAcrossNats(topology);
      expect([listener.path, dialer.path]).toEqual(["punch", "punch"]);
      expect(dialer).toMatchObject({ echoed: ECHO_BYTES, same: true });
      // Each saw the other's NAT router, never a private address.
      expect(listener.peer.host).toBe("10.77.2.2");
      expect(dialer.peer.host).toBe("10.77.1.2");
      expect(counters).toMatchObject({ pairings: 1, punched: 1, relayed: 0, relayBytes: 0 });
    } finally {
      topology.destroy();
    }
  });

  it("falls back to the relay behind a symmetric NAT, and the echo still succeeds", async () => {
    const topology = buildNatTopology({ symmetric: true });
    try {
      const { listener, dialer, counters } = await pairAcrossNats(topology);
      expect([listener.path, dialer.path]).toEqual(["relay", "relay"]);
      expect(dialer).toMatchObject({ echoed: ECHO_BYTES, same: true });
      expect(counters).toMatchObject({ pairings: 1, punched: 0, relayed: 1 });
      expect(counters.relayBytes).toBeGreaterThanOrEqual(2 * ECHO_BYTES);
    } finally {
      topology.destroy();
    }
  });
});
