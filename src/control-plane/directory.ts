/**
 * Keeps every process's peer directory current. A process that registers gets the whole
 * directory of its application; after that, changes to the application's processes (seen
 * through the metadata store, so changes made by other replicas count too) reach each of its
 * processes linked to this replica as changes only: the entries that changed and the names that
 * left, bursts coalesced into one push per application. A change then costs one small message
 * per linked process, not the whole directory (with 10,000 swapped processes, megabytes) to each.
 * A process that finds a peer missing or not active asks the control plane to resume it, which
 * sends it the whole directory again, so a change it missed heals on first use.
 */
import type { Logger } from "pino";
import type { PeerChanges, PeerEntry, ProcessStatus } from "../protocol/index.js";
import type { MetadataStore, ProcessChange, ProcessRecord } from "../storage/index.js";
import type { ControlLinkServer } from "./control-link-server.js";

const COALESCE_MS = 10;

export class PeerDirectory {
  /** Records changed since the last push, by application and name (undefined: deleted). */
  readonly #pending = new Map<string, Map<string, ProcessRecord | undefined>>();
  /**
   * Processes that registered or became active, by application: only they get changes (one
   * that is swapping out is about to exit, and a frame it never reads would reset its link).
   */
  readonly #active = new Map<string, Set<string>>();
  /** Pending coalesced pushes by application. */
  readonly #scheduled = new Map<string, NodeJS.Timeout>();
  readonly #store: MetadataStore;
  readonly #links: ControlLinkServer;
  readonly #log: Logger;
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(store: MetadataStore, links: ControlLinkServer, log: Logger) {
    this.#store = store;
    this.#links = links;
    this.#log = log;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#store.subscribe(
      (change) => this.#noted(change),
      () => this.#pushEverywhere(),
    );
  }

  /** Cancels pending pushes: they would read a store that is about to close. */
  async stop(): Promise<void> {
    await this.#unsubscribe?.();
    for (const timer of this.#scheduled.values()) clearTimeout(timer);
    this.#scheduled.clear();
    this.#pending.clear();
  }

  /** Sends a process that (re)registered the whole directory: it may have missed changes. */
  welcome(app: string, name: string): void {
    this.#track(app, name, "active");
    // A failed push (e.g. the store is unreachable) must not become an unhandled rejection.
    this.push(app, name).catch((error: unknown) =>
      this.#log.warn({ app, err: String(error) }, "peer directory push failed"),
    );
  }

  /** After notices may have been missed: every process it serves gets the whole directory. */
  #pushEverywhere(): void {
    for (const [app, names] of this.#active) for (const name of names) this.welcome(app, name);
  }

  /**
   * Sends `name` the whole directory (waiting a moment for its link, which a registering
   * process is still completing).
   */
  async push(app: string, name: string): Promise<void> {
    await this.#send(app, name, (await this.#store.listProcesses(app)).flatMap(toEntry));
  }

  #noted({ app, name, record }: ProcessChange): void {
    this.#track(app, name, record?.status);
    let pending = this.#pending.get(app);
    if (pending === undefined)
      this.#pending.set(app, (pending = new Map<string, ProcessRecord | undefined>()));
    pending.set(name, record);
    if (this.#scheduled.has(app)) return;
    const timer = setTimeout(() => {
      this.#scheduled.delete(app);
      void this.#pushChanges(app);
    }, COALESCE_MS);
    this.#scheduled.set(app, timer.unref());
  }

  /** Starting processes count from their welcome on; leaving ones stop counting at once. */
  #track(app: string, name: string, status: ProcessStatus | undefined): void {
    let names = this.#active.get(app);
    if (names === undefined) this.#active.set(app, (names = new Set()));
    if (status === "active") names.add(name);
    else if (status !== "allocating" && status !== "resuming") names.delete(name);
  }

  async #pushChanges(app: string): Promise<void> {
    const pending = this.#pending.get(app);
    this.#pending.delete(app);
    if (pending === undefined) return;
    const changes = toChanges(pending);
    const active = this.#active.get(app);
    const targets = this.#links.linked(app).filter((name) => active?.has(name));
    await Promise.all(targets.map((name) => this.#send(app, name, changes)));
  }

  /** Never rejects: a process that misses a push asks again when it needs a peer. */
  async #send(app: string, name: string, body: PeerEntry[] | PeerChanges): Promise<void> {
    await this.#links.command(app, name, "peers", body, 10_000).catch((error: unknown) => {
      this.#log.debug({ app, name, err: String(error) }, "peer directory push failed");
    });
  }
}

function toChanges(pending: ReadonlyMap<string, ProcessRecord | undefined>): PeerChanges {
  const changes: PeerChanges = { changed: [], removed: [] };
  for (const [name, record] of pending) {
    const entry = record === undefined ? undefined : toEntry(record)[0];
    if (entry === undefined) changes.removed.push(name);
    else changes.changed.push(entry);
  }
  return changes;
}

function toEntry(record: ProcessRecord): PeerEntry[] {
  if (record.status === "active" && record.connection) {
    return [{ name: record.name, status: "active", address: { ...record.connection } }];
  }
  if (record.status === "swapped" || record.status === "resuming")
    return [{ name: record.name, status: "swapped" }];
  return [];
}
