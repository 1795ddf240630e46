/**
 * Keeps every process's peer directory current: after any change to an application's processes
 * (seen through the metadata store, so changes made by other replicas count too), the
 * application's directory is pushed to each of its active processes this replica holds a link to.
 * Bursts of changes are coalesced into one push per application.
 */
import type { Logger } from "pino";
import type { PeerEntry } from "../protocol/index.js";
import type { MetadataStore, ProcessRecord } from "../storage/index.js";
import type { ControlLinkServer } from "./control-link-server.js";

const COALESCE_MS = 10;

export class PeerDirectory {
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
    this.#unsubscribe = await this.#store.subscribe((change) => this.schedule(change.app));
  }

  /** Cancels pending pushes: they would read a store that is about to close. */
  async stop(): Promise<void> {
    await this.#unsubscribe?.();
    for (const timer of this.#scheduled.values()) clearTimeout(timer);
    this.#scheduled.clear();
  }

  schedule(app: string): void {
    if (this.#scheduled.has(app)) return;
    const timer = setTimeout(() => {
      this.#scheduled.delete(app);
      // A failed push (e.g. the store is unreachable) must not become an unhandled rejection.
      this.push(app).catch((error: unknown) =>
        this.#log.warn({ app, err: String(error) }, "peer directory push failed"),
      );
    }, COALESCE_MS);
    this.#scheduled.set(app, timer.unref());
  }

  /** Sends the current directory to every linked active process of `app`; resolves when sent. */
  async push(app: string, only?: string): Promise<void> {
    const records = await this.#store.listProcesses(app);
    const entries = records.flatMap(toEntry);
    const targets = records.filter((r) => r.status === "active" && (!only || r.name === only));
    await Promise.all(
      targets
        .filter((r) => this.#links.has(app, r.name))
        .map((r) =>
          this.#links.command(app, r.name, "peers", entries, 10_000).catch((error: unknown) => {
            this.#log.debug(
              { app, name: r.name, err: String(error) },
              "peer directory push failed",
            );
          }),
        ),
    );
  }
}

function toEntry(record: ProcessRecord): PeerEntry[] {
  if (record.status === "active" && record.connection) {
    return [{ name: record.name, status: "active", address: { ...record.connection } }];
  }
  if (record.status === "swapped" || record.status === "resuming")
    return [{ name: record.name, status: "swapped" }];
  return [];
}
