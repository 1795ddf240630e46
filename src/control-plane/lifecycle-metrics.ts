/**
 * Control-plane series on `/metrics`: swap-outs and resumes (count by outcome, duration, bytes),
 * control-plane invocations (latency by outcome: the path through this API, next to the
 * processes' own direct-path histogram), and processes by status (read from the store at
 * scrape time). Labels: app, function, direction, outcome, status; function names the process
 * did not know are counted as "unknown", so a caller cannot grow the label set.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { LATENCY_BUCKETS_SECONDS, PROCESS_STATUSES, PraaSError } from "../protocol/index.js";
import type { MetadataStore } from "../storage/index.js";

export type SwapDirection = "out" | "in";

export class LifecycleMetrics {
  readonly #swaps: Counter<"app" | "direction" | "outcome">;
  readonly #swapSeconds: Histogram<"app" | "direction">;
  readonly #swapBytes: Counter<"app" | "direction">;
  readonly #invocations: Histogram<"app" | "function" | "outcome">;

  constructor(registry: Registry, store: MetadataStore) {
    const registers = [registry];
    this.#swaps = new Counter({
      name: "praas_swaps_total",
      help: "Swap-outs (direction out) and resumes (in), by app and outcome (ok or an error code)",
      labelNames: ["app", "direction", "outcome"],
      registers,
    });
    this.#swapSeconds = new Histogram({
      name: "praas_swap_duration_seconds",
      help: "Duration of successful swap-outs and resumes, by app and direction",
      labelNames: ["app", "direction"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.#swapBytes = new Counter({
      name: "praas_swap_bytes_total",
      help: "State bytes written by swap-outs and read back by resumes, by app and direction",
      labelNames: ["app", "direction"],
      registers,
    });
    this.#invocations = new Histogram({
      name: "praas_control_plane_invocation_duration_seconds",
      help: "Invocations through the control plane's API, by app, function and outcome",
      labelNames: ["app", "function", "outcome"],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
    processCounts(registry, store);
  }

  /** Times a swap-out or a resume; `bytes` says what it moved once it succeeded. */
  async swap<T>(
    app: string,
    direction: SwapDirection,
    work: () => Promise<T>,
    bytes: (result: T) => number,
  ): Promise<T> {
    const end = this.#swapSeconds.startTimer({ app, direction });
    try {
      const result = await work();
      end();
      this.#swaps.inc({ app, direction, outcome: "ok" });
      this.#swapBytes.inc({ app, direction }, bytes(result));
      return result;
    } catch (error) {
      this.#swaps.inc({ app, direction, outcome: outcomeOf(error) });
      throw error;
    }
  }

  async invocation<T>(app: string, fn: string, work: () => Promise<T>): Promise<T> {
    const end = this.#invocations.startTimer({ app });
    try {
      const result = await work();
      end({ function: fn, outcome: "ok" });
      return result;
    } catch (error) {
      const outcome = outcomeOf(error);
      const known = outcome !== "FUNCTION_NOT_FOUND" && outcome !== "INVALID_NAME";
      end({ function: known ? fn : "unknown", outcome });
      throw error;
    }
  }
}

function outcomeOf(error: unknown): string {
  return error instanceof PraaSError ? error.code : "INTERNAL";
}

function processCounts(registry: Registry, store: MetadataStore): void {
  new Gauge({
    name: "praas_processes",
    help: "Processes by app and status (deleted ones are not counted)",
    labelNames: ["app", "status"],
    registers: [registry],
    async collect() {
      this.reset();
      const apps = await store.listApps().catch(() => []);
      for (const app of apps) {
        const counts = new Map<string, number>(PROCESS_STATUSES.map((s) => [s, 0]));
        for (const record of await store.listProcesses(app.name).catch(() => []))
          counts.set(record.status, (counts.get(record.status) ?? 0) + 1);
        counts.delete("deleted");
        for (const [status, count] of counts) this.set({ app: app.name, status }, count);
      }
    },
  });
}
