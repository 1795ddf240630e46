/**
 * Scale to zero, the control plane's half: a process that reports itself idle (nothing used it
 * for its idle time; only the process can tell, see runtime/idle-tracker.ts) is swapped out
 * through the normal swap path, so the lifecycle, compare-and-set and replicas hold as for any
 * swap. The process refuses the swap if it was used in between, and then stays active. Counted
 * in `praas_idle_swaps_total{app}` (applications are few; process names would not be).
 */
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { MetadataStore } from "../storage/index.js";
import type { ProcessManager } from "./process-manager.js";

const IDLE_SWAPS = "praas_idle_swaps_total";

export class IdleSwaps {
  readonly #manager: ProcessManager;
  readonly #store: MetadataStore;
  readonly #log: Logger;
  readonly #swapped: Counter<"app">;
  /** Idle swaps under way, by app/name: a repeated report does not start a second. */
  readonly #running = new Set<string>();

  constructor(manager: ProcessManager, store: MetadataStore, registry: Registry, log: Logger) {
    this.#manager = manager;
    this.#store = store;
    this.#log = log;
    this.#swapped = idleSwapCounter(registry);
  }

  /** A process reported itself idle: swap it out in the background. */
  reported(app: string, name: string): void {
    const id = `${app}/${name}`;
    if (this.#running.has(id)) return;
    this.#running.add(id);
    void this.#swap(app, name).finally(() => this.#running.delete(id));
  }

  async #swap(app: string, name: string): Promise<void> {
    try {
      const record = await this.#store.getProcess(app, name);
      if (record?.status !== "active") return;
      const swapped = await this.#manager.swap(app, name, "idle");
      this.#swapped.inc({ app });
      this.#log.info({ app, name, stateSize: swapped.stateSize }, "idle process swapped out");
    } catch (error) {
      // E.g. it was used again meanwhile (INVALID_STATE), or the store failed: it asks again later.
      this.#log.info({ app, name, err: String(error) }, "idle swap-out not done");
    }
  }
}

/** Reuses the counter when a second control plane shares the registry. */
function idleSwapCounter(registry: Registry): Counter<"app"> {
  const existing = registry.getSingleMetric(IDLE_SWAPS);
  if (existing instanceof Counter) return existing;
  return new Counter({
    name: IDLE_SWAPS,
    help: "Processes swapped out because nothing used them for their idle time, by application",
    labelNames: ["app"],
    registers: [registry],
  });
}
