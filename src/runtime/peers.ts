/**
 * The other processes of this application: where they are (the directory, fed by the control
 * plane or a static map) and one lazily opened data-plane connection to each.
 */
import type { Socket } from "node:net";
import {
  FrameType,
  PraaSError,
  encodeFields,
  type PeerChanges,
  type PeerTicket,
  type ProcessList,
} from "../protocol/index.js";
import { pairAndConnect } from "../rendezvous/index.js";
import { connectFrameLink, idlestRoute, touchRoute, type FrameLink } from "../transport/index.js";
import type { PeerAddress, PeerEntry } from "./config.js";

export interface PeersOptions {
  self: string;
  /** Presented when dialling a peer: proves we are a process of this application. */
  peerSecret: string;
  maxPayloadBytes: number;
  /** Asked to bring a swapped peer back; resolves once the directory shows it active. */
  resume?: ((name: string) => Promise<void>) | undefined;
  /**
   * Asked for a dialer ticket to a peer that is reachable only through the rendezvous (its
   * address says punch or relay); the control plane tells the peer to pair at the same time.
   */
  ticket?: ((name: string) => Promise<PeerTicket>) | undefined;
  /** A peer moved or left: connections to it that others hold (workers') must go too. */
  moved?: ((name: string) => void) | undefined;
}

/** Peer connections a process keeps: past this, the least recently used idle one is closed. */
const MAX_PEER_LINKS = 256;

export class Peers {
  readonly #options: PeersOptions;
  #entries = new Map<string, PeerEntry>();
  /** Connections to peers, least recently used first. */
  readonly #links = new Map<string, Promise<FrameLink>>();
  /** The open ones among them. */
  readonly #opened = new Map<string, FrameLink>();
  #changed: (() => void)[] = [];

  constructor(options: PeersOptions, entries: readonly PeerEntry[] = []) {
    this.#options = options;
    this.update(entries);
  }

  /** Replaces the directory; connections to peers that moved or left are closed. */
  update(entries: readonly PeerEntry[]): void {
    this.#replace(new Map(this.#others(entries).map((e) => [e.name, e])));
  }

  /** Sets the changed entries and drops the removed ones; the rest stays as it is. */
  patch({ changed, removed }: PeerChanges): void {
    const next = new Map(this.#entries);
    for (const name of removed) next.delete(name);
    for (const entry of this.#others(changed)) next.set(entry.name, entry);
    this.#replace(next);
  }

  #others(entries: readonly PeerEntry[]): PeerEntry[] {
    return entries.filter((e) => e.name !== this.#options.self);
  }

  #replace(next: Map<string, PeerEntry>): void {
    for (const [name, old] of this.#entries) {
      // A peer that had no address has no link yet (one may be opening while it resumes).
      if (old.address && !sameAddress(old.address, next.get(name)?.address)) {
        this.#drop(name);
        this.#options.moved?.(name);
      }
    }
    this.#entries = next;
    const waiters = this.#changed;
    this.#changed = [];
    for (const wake of waiters) wake();
  }

  list(): ProcessList {
    const active = [this.#options.self];
    const swapped: string[] = [];
    for (const entry of this.#entries.values())
      (entry.status === "active" ? active : swapped).push(entry.name);
    return { active: active.sort(), swapped: swapped.sort() };
  }

  async invoke(peer: string, functionName: string, payload: Uint8Array): Promise<Buffer> {
    const link = await this.#link(peer);
    return (await link.request(FrameType.Invoke, encodeFields([functionName]), payload)).payload;
  }

  async put(peer: string, key: string, value: Uint8Array): Promise<void> {
    const link = await this.#link(peer);
    await link.request(FrameType.PeerPut, encodeFields([key, this.#options.self]), value);
  }

  /**
   * A new connection to `peer`, authenticated as this process and let go of, for a worker to
   * use as its own; undefined when the peer is reached only by pairing through the rendezvous
   * (that stays here).
   */
  async detachedLink(peer: string): Promise<{ socket: Socket; rest: Buffer } | undefined> {
    const address = await this.#address(peer);
    if (address.path !== undefined && address.path !== "direct") return undefined;
    const { link } = await connectFrameLink({
      ...address,
      role: "peer",
      name: this.#options.self,
      peerSecret: this.#options.peerSecret,
      maxPayloadBytes: this.#options.maxPayloadBytes,
    });
    const rest = link.detach();
    return { socket: link.socket, rest };
  }

  closeAll(): void {
    for (const name of [...this.#links.keys()]) this.#drop(name);
  }

  #link(peer: string): Promise<FrameLink> {
    const link = this.#links.get(peer);
    if (link !== undefined) {
      touchRoute(this.#links, peer, link);
      return link;
    }
    const opening = this.#open(peer);
    this.#links.set(peer, opening);
    // Counted open only while it is still this peer's link (a drop may come first).
    opening.then(
      (open) => {
        if (this.#links.get(peer) === opening) this.#opened.set(peer, open);
      },
      () => this.#links.delete(peer),
    );
    if (this.#links.size > MAX_PEER_LINKS) this.#dropIdlest();
    return opening;
  }

  /** Closes the least recently used peer connection with nothing in flight, if there is one. */
  #dropIdlest(): void {
    const idlest = idlestRoute(this.#links, this.#opened);
    if (idlest !== undefined) this.#drop(idlest);
  }

  async #open(peer: string): Promise<FrameLink> {
    const address = await this.#address(peer);
    const socket = await this.#pairedSocket(peer, address);
    const { link } = await connectFrameLink({
      ...address,
      ...(socket ? { socket } : {}),
      role: "peer",
      name: this.#options.self,
      peerSecret: this.#options.peerSecret,
      maxPayloadBytes: this.#options.maxPayloadBytes,
      onClose: () => this.#forget(peer),
    });
    return link;
  }

  /** For a peer behind NAT: a socket paired through the rendezvous; undefined: dial directly. */
  async #pairedSocket(peer: string, address: PeerAddress): Promise<Socket | undefined> {
    if (address.path === undefined || address.path === "direct") return undefined;
    if (!this.#options.ticket) {
      throw new PraaSError("PEER_UNAVAILABLE", `process "${peer}" is reachable only by pairing`);
    }
    const { rendezvous, ticket } = await this.#options.ticket(peer);
    const relayOnly = address.path === "relay";
    return (await pairAndConnect({ rendezvous, ticket, relayOnly })).socket;
  }

  /**
   * Where `peer` is. The directory is pushed asynchronously, so a peer we do not know yet (just
   * created) or know as swapped is looked up through the control plane, which resumes it if
   * needed and sends us a fresh directory before it answers.
   */
  async #address(peer: string): Promise<PeerAddress> {
    if (!this.#activeAddress(peer) && this.#options.resume) await this.#options.resume(peer);
    const entry = this.#entries.get(peer);
    if (entry === undefined)
      throw new PraaSError("PROCESS_NOT_FOUND", `no process "${peer}" in this application`);
    const address = this.#activeAddress(peer);
    if (!address)
      throw new PraaSError(
        "PEER_UNAVAILABLE",
        `process "${peer}" is ${entry.status === "swapped" ? "swapped out" : "not reachable"}`,
      );
    return address;
  }

  #activeAddress(peer: string): PeerAddress | undefined {
    const entry = this.#entries.get(peer);
    return entry?.status === "active" ? entry.address : undefined;
  }

  /** Resolves at the next directory update (used while a peer resumes). */
  nextUpdate(): Promise<void> {
    return new Promise((resolve) => this.#changed.push(resolve));
  }

  /** A peer link closed: forget it so the next call dials again (a newer link stays). */
  #forget(peer: string): void {
    const current = this.#links.get(peer);
    void current?.then(
      (open) => {
        if (!open.closed || this.#links.get(peer) !== current) return;
        this.#links.delete(peer);
        this.#opened.delete(peer);
      },
      () => undefined,
    );
  }

  #drop(peer: string): void {
    const link = this.#links.get(peer);
    this.#links.delete(peer);
    this.#opened.delete(peer);
    void link?.then(
      (open) => open.close(),
      () => undefined,
    );
  }
}

function sameAddress(a: PeerAddress | undefined, b: PeerAddress | undefined): boolean {
  return a?.host === b?.host && a?.port === b?.port && a?.token === b?.token;
}
