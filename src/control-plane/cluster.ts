/**
 * The replicas of one control plane sharing a metadata store. Each replica announces itself in
 * the store (id, the address peers reach it at, a heartbeat that expires), and a process record
 * names the replica holding its control link (`replica`). A command for a process linked here
 * goes over the local link; one linked to a live peer is forwarded to that peer over its
 * control-link port (authenticated with the cluster secret from the store); one whose replica is
 * gone waits, bounded, for the process to register again (behind a proxy it re-dials a live
 * replica) and then goes wherever it registered. With the memory store there is one replica:
 * every link is local and nothing is forwarded.
 */
import type { Logger } from "pino";
import {
  FrameType,
  PraaSError,
  encodeFields,
  type ControlCommand,
  type ControlReply,
} from "../protocol/index.js";
import type { MetadataStore, ProcessRecord, ReplicaRecord } from "../storage/index.js";
import { FrameLink, openSocket } from "../transport/index.js";
import {
  REPLICA_HELLO,
  parseReply,
  type CommandArguments,
  type ControlLinkServer,
} from "./control-link-server.js";
import { getProcessOrThrow } from "./lifecycle.js";

export interface ClusterTimings {
  /** How often a replica renews its announcement. */
  heartbeatMs: number;
  /** How long an announcement lasts without renewal: a replica silent that long is gone. */
  replicaTtlMs: number;
  /** How long a command waits for its process to be linked to a live replica. */
  linkWaitMs: number;
}

export interface ClusterOptions {
  store: MetadataStore;
  links: ControlLinkServer;
  replicaId: string;
  /** host:port where peers reach this replica's control-link listener (known after listen). */
  address: () => string;
  log: Logger;
  timings?: Partial<ClusterTimings>;
}

const DEFAULT_TIMINGS: ClusterTimings = {
  heartbeatMs: 1_000,
  replicaTtlMs: 5_000,
  linkWaitMs: 5_000,
};
/** Between two looks at where a process is linked while it has no live replica. */
const RECHECK_MS = 500;
/** A forwarded command may take this much longer than the command itself (two more hops). */
const FORWARD_MARGIN_MS = 5_000;
const DIAL_TIMEOUT_MS = 5_000;

export class Cluster {
  readonly id: string;
  readonly #options: ClusterOptions;
  readonly #timings: ClusterTimings;
  /** Links to peer replicas, by address, dialled on first use. */
  readonly #peers = new Map<string, Promise<FrameLink>>();
  #secret: Promise<string> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: ClusterOptions) {
    this.#options = options;
    this.id = options.replicaId;
    this.#timings = { ...DEFAULT_TIMINGS, ...options.timings };
  }

  /** Announces this replica, then keeps announcing it until `stop`. */
  async start(): Promise<void> {
    await this.#announce();
    this.#scheduleHeartbeat();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#heartbeat);
    for (const link of this.#peers.values()) void link.then((l) => l.destroy(), ignore);
    this.#peers.clear();
    await this.#options.store.deleteReplica(this.id).catch(ignore);
  }

  /** The secret peers present, read once from the store (every replica reads the same one). */
  clusterSecret(): Promise<string> {
    this.#secret ??= this.#options.store.clusterSecret().catch((error: unknown) => {
      this.#secret = undefined;
      throw error;
    });
    return this.#secret;
  }

  /** Whether the process's control link is held by this replica or by a live peer. */
  async linked(record: ProcessRecord): Promise<boolean> {
    if (this.#options.links.has(record.app, record.name)) return true;
    return (await this.livePeerOwner(record)) !== undefined;
  }

  /** The live peer replica the record names as holding the link, if any. */
  async livePeerOwner(record: ProcessRecord): Promise<ReplicaRecord | undefined> {
    if (record.replica === undefined || record.replica === this.id) return undefined;
    return this.#options.store.getReplica(record.replica);
  }

  /** Whether the record names a replica that is gone (not this one, no live announcement). */
  async ownerGone(record: ProcessRecord): Promise<boolean> {
    if (record.replica === undefined || record.replica === this.id) return false;
    return (await this.#options.store.getReplica(record.replica)) === undefined;
  }

  /** Sends a command to the process wherever its link is; resolves its JSON reply. */
  async command<C extends ControlCommand>(
    app: string,
    name: string,
    command: C,
    ...[body, timeoutMs = 120_000]: CommandArguments<C>
  ): Promise<ControlReply<C>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return parseReply<C>(await this.#send(app, name, command, payload, timeoutMs));
  }

  /**
   * Local link, else the live peer holding it, else wait (bounded) for the process to register
   * somewhere: a link that appears here is used at once; the store is read again every
   * RECHECK_MS for one that appeared at a peer.
   */
  async #send(
    app: string,
    name: string,
    command: string,
    payload: Buffer | undefined,
    timeoutMs: number,
  ): Promise<Buffer> {
    const { links, store } = this.#options;
    const deadline = Date.now() + this.#timings.linkWaitMs;
    for (;;) {
      const record = await getProcessOrThrow(store, app, name);
      const owner = links.has(app, name) ? undefined : await this.livePeerOwner(record);
      if (owner) {
        try {
          return await this.#forward(owner, [command, app, name, String(timeoutMs)], payload);
        } catch (error) {
          if (!linkElsewhere(error) || Date.now() >= deadline) throw error;
        }
      }
      const waitMs = Math.max(0, Math.min(deadline - Date.now(), RECHECK_MS));
      try {
        return await links.send(app, name, command, payload, timeoutMs, waitMs);
      } catch (error) {
        if (!linkElsewhere(error) || Date.now() >= deadline) throw error;
      }
    }
  }

  async #forward(owner: ReplicaRecord, fields: string[], payload: Buffer | undefined) {
    const link = await this.#peerLink(owner.address);
    const timeoutMs = Number(fields[3]) + FORWARD_MARGIN_MS;
    const reply = await link.request(FrameType.Command, encodeFields(fields), payload, timeoutMs);
    return reply.payload;
  }

  #peerLink(address: string): Promise<FrameLink> {
    let link = this.#peers.get(address);
    if (!link) {
      link = this.#dialPeer(address);
      this.#peers.set(address, link);
      link.catch(() => this.#forget(address, link));
    }
    return link.then((open) => (open.closed ? this.#redialPeer(address, link) : open));
  }

  #redialPeer(address: string, stale: Promise<FrameLink> | undefined): Promise<FrameLink> {
    this.#forget(address, stale);
    return this.#peerLink(address);
  }

  #forget(address: string, link: Promise<FrameLink> | undefined): void {
    if (this.#peers.get(address) === link) this.#peers.delete(address);
  }

  async #dialPeer(address: string): Promise<FrameLink> {
    const { host, port } = splitAddress(address);
    const socket = await openSocket(host, port, DIAL_TIMEOUT_MS);
    const link = new FrameLink(socket, {
      maxPayloadBytes: 64 * 1024 * 1024,
      onRequest: () => {
        throw new PraaSError("PROTOCOL_ERROR", "a peer replica sends no requests");
      },
    });
    try {
      const hello = encodeFields([REPLICA_HELLO, await this.clusterSecret()]);
      await link.request(FrameType.Command, hello, undefined, DIAL_TIMEOUT_MS);
    } catch (error) {
      link.destroy();
      throw error;
    }
    return link;
  }

  async #announce(): Promise<void> {
    const { store, replicaId, address } = this.#options;
    const replica = { id: replicaId, address: address(), seenAt: Date.now() };
    await store.putReplica(replica, this.#timings.replicaTtlMs);
  }

  /** A missed heartbeat (Redis briefly down) is logged; the next one tries again. */
  #scheduleHeartbeat(): void {
    if (this.#stopped) return;
    this.#heartbeat = setTimeout(() => {
      this.#announce()
        .catch((error: unknown) =>
          this.#options.log.warn({ err: String(error) }, "replica heartbeat failed"),
        )
        .finally(() => this.#scheduleHeartbeat());
    }, this.#timings.heartbeatMs);
    this.#heartbeat.unref();
  }
}

/**
 * Errors that mean "the link is not where we looked": the process is not linked there (yet), or
 * the peer replica cannot be reached. Anything else is the command's own answer.
 */
function linkElsewhere(error: unknown): boolean {
  return (
    error instanceof PraaSError &&
    (error.code === "UNAVAILABLE" || error.code === "PEER_UNAVAILABLE")
  );
}

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535)
    throw new PraaSError("BAD_REQUEST", `expected HOST:PORT, got ${JSON.stringify(address)}`);
  return { host: address.slice(0, colon), port };
}

function ignore(): void {}
