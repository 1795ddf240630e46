/**
 * The rendezvous link (NAT traversal): pairing tickets and the messages a party and the
 * rendezvous server exchange, on the shared binary frame format (frame.ts). No I/O here.
 *
 * Flow, for one pairing id and its two complementary roles ("listener": the process,
 * "dialer": the client or peer that wants to reach it):
 *  1. each party sends Pair [ticket]; the server answers both, once both came, with the OTHER
 *     party's address as the server observed it (its public, post-NAT address);
 *  2. both try a TCP simultaneous open from the local port the server observed, then each sends
 *     Outcome ["punched" | "failed"]; the server answers both with one decision: "punch" when
 *     both hold the punched connection, else "relay", after which the rendezvous connection
 *     itself carries raw bytes between the two parties.
 * Errors are Error frames [code, message] as on every link.
 *
 * A ticket is `rv1.<pairingId>.<role>.<expiresAtMs>.<signature>`: HMAC-SHA256 (base64url) over
 * the other fields with a secret shared by the control plane (which issues tickets to authorised
 * parties) and the rendezvous server (which verifies them). Hashing is computation, not I/O,
 * like the timing-safe comparison in secrets.ts.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

import { PraaSError } from "./errors.js";
import { FRAME_MAGIC, HEADER_BYTES, isFrameType, type FrameHeader } from "./frame.js";

export const RENDEZVOUS_ROLES = ["listener", "dialer"] as const;
export type RendezvousRole = (typeof RENDEZVOUS_ROLES)[number];

export type PunchOutcome = "punched" | "failed";
export type ConnectionPath = "punch" | "relay";

export interface PairingTicket {
  pairingId: string;
  role: RendezvousRole;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export interface PeerAddress {
  host: string;
  port: number;
}

const TICKET_VERSION = "rv1";
const PAIRING_ID = /^[A-Za-z0-9_-]{8,64}$/;
/** Shorter secrets make forging a ticket a matter of guessing. */
export const MIN_RENDEZVOUS_SECRET_LENGTH = 16;
/** Rendezvous metadata is a ticket or an address: anything longer is garbage. */
export const MAX_RENDEZVOUS_META_BYTES = 1024;

export function isRendezvousRole(value: unknown): value is RendezvousRole {
  return value === "listener" || value === "dialer";
}

export function otherRole(role: RendezvousRole): RendezvousRole {
  return role === "listener" ? "dialer" : "listener";
}

function sign(secret: string, pairingId: string, role: string, expiresAt: string): string {
  return createHmac("sha256", secret)
    .update(`${TICKET_VERSION}\n${pairingId}\n${role}\n${expiresAt}`)
    .digest("base64url");
}

export function issueTicket(secret: string, ticket: PairingTicket): string {
  if (!PAIRING_ID.test(ticket.pairingId)) {
    throw new PraaSError("BAD_REQUEST", "a pairing id is 8 to 64 characters of [A-Za-z0-9_-]");
  }
  const expiresAt = String(Math.trunc(ticket.expiresAt));
  const signature = sign(secret, ticket.pairingId, ticket.role, expiresAt);
  return [TICKET_VERSION, ticket.pairingId, ticket.role, expiresAt, signature].join(".");
}

function unauthorized(message: string): PraaSError {
  return new PraaSError("UNAUTHORIZED", message);
}

function signatureMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The ticket's content when its signature is right and it has not expired at `now`. */
export function verifyTicket(secret: string, text: string, now: number): PairingTicket {
  const parts = text.split(".");
  const [version, pairingId = "", role = "", expiresAt = "", signature = ""] = parts;
  if (parts.length !== 5 || version !== TICKET_VERSION || !PAIRING_ID.test(pairingId)) {
    throw unauthorized("malformed pairing ticket");
  }
  if (!signatureMatches(signature, sign(secret, pairingId, role, expiresAt))) {
    throw unauthorized("pairing ticket signature does not match");
  }
  if (!isRendezvousRole(role) || !/^\d{1,15}$/.test(expiresAt)) {
    throw unauthorized("malformed pairing ticket");
  }
  if (Number(expiresAt) <= now) throw unauthorized("pairing ticket expired");
  return { pairingId, role, expiresAt: Number(expiresAt) };
}

/** Reads a frame header; garbage (bad magic, unknown type) is a PROTOCOL_ERROR. */
export function decodeFrameHeader(bytes: Buffer): FrameHeader {
  const type = bytes[1] ?? 0;
  if (bytes.length < HEADER_BYTES || bytes[0] !== FRAME_MAGIC || !isFrameType(type)) {
    throw new PraaSError("PROTOCOL_ERROR", "not a PraaS frame");
  }
  return {
    type,
    metaLength: bytes.readUInt16LE(2),
    id: bytes.readUInt32LE(4),
    payloadLength: bytes.readUInt32LE(8),
  };
}

export function peerAddressFields(address: PeerAddress): string[] {
  return [address.host, String(address.port)];
}

export function parsePeerAddress(fields: readonly string[]): PeerAddress {
  const [host = "", portText = ""] = fields;
  const port = Number(portText);
  if (host === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PraaSError("PROTOCOL_ERROR", "malformed peer address");
  }
  return { host, port };
}

export function parsePunchOutcome(fields: readonly string[]): PunchOutcome {
  const [outcome] = fields;
  if (outcome === "punched" || outcome === "failed") return outcome;
  throw new PraaSError("PROTOCOL_ERROR", "malformed punch outcome");
}

export function parseConnectionPath(fields: readonly string[]): ConnectionPath {
  const [path] = fields;
  if (path === "punch" || path === "relay") return path;
  throw new PraaSError("PROTOCOL_ERROR", "malformed connection path");
}
