/**
 * The rendezvous server and its party side on loopback, in process: pairing, the relay, and
 * abuse (forged, expired, reused and re-roled tickets, a third party racing a pairing, floods
 * past the pending cap, garbage on the port).
 */
import { randomBytes } from "node:crypto";
import net, { type Socket } from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import {
  FrameType,
  PraaSError,
  decodeFields,
  encodeFields,
  encodeFrame,
  issueTicket,
  type RendezvousRole,
} from "../../src/protocol/index.js";
import {
  RendezvousServer,
  pairAndConnect,
  type PairedConnection,
  type RendezvousServerOptions,
} from "../../src/rendezvous/index.js";

const SECRET = "rendezvous-test-secret-0123456789";
const servers: RendezvousServer[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function startServer(
  options: Partial<RendezvousServerOptions> = {},
): Promise<RendezvousServer> {
  const server = await RendezvousServer.start({ secret: SECRET, host: "127.0.0.1", ...options });
  servers.push(server);
  return server;
}

function ticket(pairingId: string, role: RendezvousRole, ttlMs = 60_000, secret = SECRET): string {
  return issueTicket(secret, { pairingId, role, expiresAt: Date.now() + ttlMs });
}

function freshId(): string {
  return randomBytes(9).toString("base64url");
}

async function party(
  server: RendezvousServer,
  ticketText: string,
  relayOnly = false,
): Promise<PairedConnection> {
  const connection = await pairAndConnect({
    rendezvous: server.address,
    ticket: ticketText,
    punchTimeoutMs: 300,
    relayOnly,
  });
  sockets.push(connection.socket);
  return connection;
}

async function refusal(promise: Promise<unknown>): Promise<PraaSError> {
  const error: unknown = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(PraaSError);
  return error as PraaSError;
}

/** Sends `bytes` on `socket`, has the other side echo them, and returns what came back. */
async function echoThrough(a: Socket, b: Socket, bytes: Buffer): Promise<Buffer> {
  b.pipe(b);
  const chunks: Buffer[] = [];
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    a.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= bytes.length) resolve();
    });
    a.once("error", reject);
    a.once("close", () => reject(new Error(`closed after ${received} bytes`)));
  });
  a.write(bytes);
  await done;
  return Buffer.concat(chunks);
}

/** The raw bytes the server sends back for `bytes`, until it closes the connection. */
async function rawExchange(server: RendezvousServer, bytes: Buffer): Promise<Buffer> {
  const socket = net.connect(server.address);
  sockets.push(socket);
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => undefined);
  socket.write(bytes);
  await new Promise((resolve) => socket.once("close", resolve));
  return Buffer.concat(chunks);
}

function errorCodeIn(reply: Buffer): string | undefined {
  if (reply.length < 12 || reply[1] !== FrameType.Error) return undefined;
  return decodeFields(reply.subarray(12, 12 + reply.readUInt16LE(2)))[0];
}

async function pairBoth(server: RendezvousServer, id: string): Promise<PairedConnection[]> {
  return Promise.all([party(server, ticket(id, "listener")), party(server, ticket(id, "dialer"))]);
}

describe("rendezvous pairing", () => {
  it("pairs a listener and a dialer and carries an echo over the path both agree on", async () => {
    const server = await startServer();
    const [listener, dialer] = await pairBoth(server, freshId());
    expect(listener?.path).toBe(dialer?.path);
    const payload = randomBytes(256 * 1024);
    const echoed = await echoThrough(dialer!.socket, listener!.socket, payload);
    expect(echoed.equals(payload)).toBe(true);
    const counters = server.counters();
    expect(counters.pairings).toBe(1);
    expect(counters.punched + counters.relayed).toBe(1);
    if (listener?.path === "relay") expect(counters.relayBytes).toBe(2 * payload.length);
    else expect(counters.relayBytes).toBe(0);
  });

  it("goes straight to the relay when the parties ask for it, though a punch would work", async () => {
    const server = await startServer();
    const id = freshId();
    const [listener, dialer] = await Promise.all([
      party(server, ticket(id, "listener"), true),
      party(server, ticket(id, "dialer"), true),
    ]);
    expect([listener.path, dialer.path]).toEqual(["relay", "relay"]);
    const payload = randomBytes(1024);
    expect((await echoThrough(dialer.socket, listener.socket, payload)).equals(payload)).toBe(true);
    expect(server.counters()).toMatchObject({ punched: 0, relayed: 1 });
  });

  it("tells each party the other's observed address", async () => {
    const server = await startServer();
    const [listener, dialer] = await pairBoth(server, freshId());
    expect(listener?.peer.host).toBe("127.0.0.1");
    expect(dialer?.peer.host).toBe("127.0.0.1");
    expect(listener?.peer.port).not.toBe(dialer?.peer.port);
  });
});

describe("rendezvous abuse", () => {
  it("refuses a ticket signed with another secret", async () => {
    const server = await startServer();
    const forged = ticket(freshId(), "listener", 60_000, "some-other-secret-0123456789");
    const error = await refusal(party(server, forged));
    expect([error.code, error.message]).toEqual([
      "UNAUTHORIZED",
      "pairing ticket signature does not match",
    ]);
  });

  it("refuses a ticket whose role was changed after signing", async () => {
    const server = await startServer();
    const edited = ticket(freshId(), "listener").replace(".listener.", ".dialer.");
    expect((await refusal(party(server, edited))).code).toBe("UNAUTHORIZED");
  });

  it("refuses an expired ticket and one valid for too long", async () => {
    const server = await startServer({ maxTicketLifetimeMs: 60_000 });
    const expired = await refusal(party(server, ticket(freshId(), "listener", -1)));
    expect([expired.code, expired.message]).toEqual(["UNAUTHORIZED", "pairing ticket expired"]);
    const tooLong = await refusal(party(server, ticket(freshId(), "listener", 3_600_000)));
    expect(tooLong.message).toBe("pairing ticket valid for too long");
  });

  it("refuses a ticket used before, also after its pairing completed", async () => {
    const server = await startServer();
    const id = freshId();
    const listenerTicket = ticket(id, "listener");
    await Promise.all([party(server, listenerTicket), party(server, ticket(id, "dialer"))]);
    const reused = await refusal(party(server, listenerTicket));
    expect([reused.code, reused.message]).toEqual(["UNAUTHORIZED", "pairing ticket already used"]);
  });

  it("never pairs two parties of the same role", async () => {
    const server = await startServer();
    const id = freshId();
    const first = party(server, ticket(id, "listener"));
    const second = await refusal(party(server, ticket(id, "listener", 50_000)));
    expect(second.code).toBe("UNAUTHORIZED");
    await Promise.all([first, party(server, ticket(id, "dialer"))]);
    expect(server.counters().pairings).toBe(1);
  });

  it("refuses a third party racing the pairing with a copied ticket", async () => {
    const server = await startServer();
    const id = freshId();
    const dialerTicket = ticket(id, "dialer");
    const dialer = party(server, dialerTicket);
    const thief = await refusal(party(server, dialerTicket));
    expect(thief.message).toBe("pairing ticket already used");
    const [listener, paired] = await Promise.all([party(server, ticket(id, "listener")), dialer]);
    expect(paired.path).toBe(listener.path);
    expect(server.counters().pairings).toBe(1);
  });

  it("tells a party whose partner left after pairing that its peer is unavailable", async () => {
    const server = await startServer();
    const id = freshId();
    const quitter = net.connect(server.address);
    sockets.push(quitter);
    quitter.write(
      Buffer.concat(encodeFrame(FrameType.Pair, 1, encodeFields([ticket(id, "listener")]))),
    );
    const dialer = refusal(party(server, ticket(id, "dialer")));
    await new Promise((resolve) => quitter.once("data", resolve)); // paired: the peer's address
    quitter.destroy();
    const error = await dialer;
    expect([error.code, error.message]).toEqual([
      "PEER_UNAVAILABLE",
      "the other party left the pairing",
    ]);
  });

  it("times out a party whose partner never comes", async () => {
    const server = await startServer({ pairingTimeoutMs: 200 });
    const error = await refusal(party(server, ticket(freshId(), "listener")));
    expect(error.code).toBe("TIMEOUT");
    expect(server.counters().pendingPairings).toBe(0);
  });

  it("refuses pairing requests past the pending cap and frees the slots when they leave", async () => {
    const server = await startServer({ maxPendingPairings: 5, pairingTimeoutMs: 20_000 });
    const waiting = Array.from({ length: 5 }, () => party(server, ticket(freshId(), "listener")));
    const failures = waiting.map((promise) => refusal(promise));
    await waitFor(() => server.counters().pendingPairings === 5);
    const flood = await Promise.all(
      Array.from({ length: 20 }, () => refusal(party(server, ticket(freshId(), "dialer")))),
    );
    expect(new Set(flood.map((error) => error.code))).toEqual(new Set(["TOO_MANY_REQUESTS"]));
    expect(server.counters().pendingPairings).toBe(5);
    await server.close();
    servers.length = 0;
    expect((await Promise.all(failures)).length).toBe(5);
  });

  it("answers garbage with PROTOCOL_ERROR, survives fuzzing, and still pairs afterwards", async () => {
    const server = await startServer({ ticketTimeoutMs: 300 });
    expect(errorCodeIn(await rawExchange(server, Buffer.from("GET / HTTP/1.1\r\n\r\n")))).toBe(
      "PROTOCOL_ERROR",
    );
    const oversized = Buffer.concat(encodeFrame(FrameType.Pair, 1, Buffer.alloc(4000)));
    expect(errorCodeIn(await rawExchange(server, oversized))).toBe("PROTOCOL_ERROR");
    const wrongType = Buffer.concat(encodeFrame(FrameType.Invoke, 1, encodeFields(["x"])));
    expect(errorCodeIn(await rawExchange(server, wrongType))).toBe("PROTOCOL_ERROR");
    const notATicket = Buffer.concat(encodeFrame(FrameType.Pair, 1, encodeFields(["rv1.a.b"])));
    expect(errorCodeIn(await rawExchange(server, notATicket))).toBe("UNAUTHORIZED");
    const fuzzed = Array.from({ length: 50 }, (_, round) => {
      const fuzz = randomBytes(1 + (round % 7) * 37);
      fuzz[0] = round % 2 === 0 ? 0x50 : (fuzz[0] ?? 0); // half start like a frame
      return rawExchange(server, fuzz);
    });
    await Promise.all(fuzzed); // each one ends: refused, or dropped once its ticket is late
    await pairBoth(server, freshId());
    expect(server.counters().pairings).toBe(1);
  });

  it("refuses the relay past its cap", async () => {
    const server = await startServer({ maxRelays: 1 });
    const first = await pairBoth(server, freshId());
    if (first[0]?.path !== "relay") return; // loopback punched: nothing relayed to cap
    const error = await refusal(pairBoth(server, freshId()));
    expect([error.code, error.message]).toEqual([
      "TOO_MANY_REQUESTS",
      "the relay is full: try again later",
    ]);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
