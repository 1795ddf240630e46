/** The rendezvous server's options, resolved once into a frozen, validated config. */
import { MIN_RENDEZVOUS_SECRET_LENGTH, PraaSError } from "../protocol/index.js";

export interface RendezvousServerOptions {
  /** Shared with the control plane, which signs the pairing tickets with it. */
  secret: string;
  host?: string;
  port?: number;
  /** How long the first party of a pairing waits for the second. */
  pairingTimeoutMs?: number;
  /** How long a new connection may take to present its ticket. */
  ticketTimeoutMs?: number;
  /** How long a paired party may take to report its punch outcome. */
  outcomeTimeoutMs?: number;
  /** Pairings waiting for their second party; more are refused with TOO_MANY_REQUESTS. */
  maxPendingPairings?: number;
  /** Relayed connections at once; more are refused with TOO_MANY_REQUESTS. */
  maxRelays?: number;
  /** Each direction of each relayed connection. */
  relayBytesPerSecond?: number;
  /** Tickets valid for longer are refused: used ids are remembered until they expire. */
  maxTicketLifetimeMs?: number;
  maxConnections?: number;
}

export type RendezvousConfig = Readonly<Required<RendezvousServerOptions>>;

const DEFAULTS: Omit<RendezvousConfig, "secret"> = {
  host: "0.0.0.0",
  port: 0,
  pairingTimeoutMs: 10_000,
  ticketTimeoutMs: 5_000,
  outcomeTimeoutMs: 30_000,
  maxPendingPairings: 1_000,
  maxRelays: 100,
  relayBytesPerSecond: 16 * 1024 * 1024,
  maxTicketLifetimeMs: 10 * 60_000,
  maxConnections: 10_000,
};

const POSITIVE_INTEGERS = [
  "pairingTimeoutMs",
  "ticketTimeoutMs",
  "outcomeTimeoutMs",
  "maxPendingPairings",
  "maxRelays",
  "relayBytesPerSecond",
  "maxTicketLifetimeMs",
  "maxConnections",
] as const;

export function resolveRendezvousConfig(options: RendezvousServerOptions): RendezvousConfig {
  const defined = Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as RendezvousServerOptions;
  const config: Required<RendezvousServerOptions> = { ...DEFAULTS, ...defined };
  if (config.secret.length < MIN_RENDEZVOUS_SECRET_LENGTH) {
    throw invalid(`the rendezvous secret needs ${MIN_RENDEZVOUS_SECRET_LENGTH}+ characters`);
  }
  for (const key of POSITIVE_INTEGERS) {
    if (!Number.isInteger(config[key]) || config[key] < 1) throw invalid(`${key} must be >= 1`);
  }
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    throw invalid("port must be 0..65535");
  }
  return Object.freeze(config);
}

function invalid(message: string): PraaSError {
  return new PraaSError("BAD_REQUEST", message);
}
