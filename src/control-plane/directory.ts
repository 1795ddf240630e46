/**
 * Keeps every process's peer directory current: after any change to an application's processes
 * (seen through the metadata store, so changes made by other replicas count too), the
 * application's directory is pushed to each of its active processes this replica holds a link to.
 * Bursts of changes are coalesced into one push per application.
 */
import type { Logger } from "pino";
import type { PeerEntry } from "../runtime/config.js";
import type { MetadataStore, ProcessRecord } from "../storage/index.js";
import type { ControlLinkServer } from "./control-link-server.js";

const COALESCE_MS = 10;

export class PeerDirectory {
  readonly #scheduled = new Set<string>();
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly store: MetadataStore,
    private readonly links: ControlLinkServer,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.#unsubscribe = await this.store.subscribe((change) => this.schedule(change.app));
  }

  async stop(): Promise<void> {
    await this.#unsubscribe?.();
  }

  schedule(app: string): void {
    if (this.#scheduled.has(app)) return;
    this.#scheduled.add(app);
    setTimeout(() => {
      this.#scheduled.delete(app);
      // A push racing a shutdown finds the store closed: nothing to tell anyone then.
      this.push(app).catch((error: unknown) => {
        this.log.debug({ app, err: String(error) }, "peer directory push failed");
      });
    }, COALESCE_MS).unref();
  }

  /** Sends the current directory to every linked active process of `app`; resolves when sent. */
  async push(app: string, only?: string): Promise<void> {
    const records = await this.store.listProcesses(app);
    const entries = records.flatMap(toEntry);
    const targets = records.filter((r) => r.status === "active" && (!only || r.name === only));
    await Promise.all(
      targets
        .filter((r) => this.links.has(app, r.name))
        .map((r) =>
          this.links.command(app, r.name, "peers", entries, 10_000).catch((error: unknown) => {
            this.log.debug({ app, name: r.name, err: String(error) }, "peer directory push failed");
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
