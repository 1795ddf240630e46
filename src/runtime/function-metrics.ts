/**
 * Per-function counters of one process since it started: invocations by outcome and a latency
 * histogram (as seen by the process: the direct path). Reported, cumulative, with each log
 * batch; the control plane turns them into Prometheus series.
 */
import {
  LATENCY_BUCKETS_SECONDS,
  PraaSError,
  type FunctionMetrics,
  type ProcessMetricsReport,
} from "../protocol/index.js";

/** Functions beyond this many are counted under "other" (a bundle may export anything). */
export const MAX_FUNCTIONS = 64;

type Gauges = Omit<ProcessMetricsReport, "functions" | "workerRestarts">;

export class FunctionMeter {
  readonly #functions = new Map<string, FunctionMetrics>();
  readonly #restarts: Record<string, number> = {};
  /** Bumped on every change: the forwarder reports only when something moved. */
  version = 0;

  /** Times `call` and counts its outcome under `fn`. */
  async measure<T>(fn: string, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let outcome = "ok";
    try {
      return await call();
    } catch (error) {
      outcome = error instanceof PraaSError ? error.code : "INTERNAL";
      throw error;
    } finally {
      this.record(fn, outcome, (performance.now() - started) / 1000);
    }
  }

  workerRestarted(cause: string): void {
    this.#restarts[cause] = (this.#restarts[cause] ?? 0) + 1;
    this.version++;
  }

  report(gauges: Gauges): ProcessMetricsReport {
    const functions = [...this.#functions.values()].map((f) => ({ ...f, buckets: [...f.buckets] }));
    return { functions, workerRestarts: { ...this.#restarts }, ...gauges };
  }

  /** Counts one call of `fn` that ended with `outcome` ("ok" or an error code) after `seconds`. */
  record(fn: string, outcome: string, seconds: number): void {
    const entry = this.#entry(fn);
    entry.outcomes[outcome] = (entry.outcomes[outcome] ?? 0) + 1;
    entry.sum += seconds;
    const bounds = LATENCY_BUCKETS_SECONDS;
    const buckets = entry.buckets;
    for (let i = 0; i < bounds.length; i++)
      if (seconds <= (bounds[i] ?? 0)) buckets[i] = (buckets[i] ?? 0) + 1;
    buckets[bounds.length] = (buckets[bounds.length] ?? 0) + 1;
    this.version++;
  }

  #entry(fn: string): FunctionMetrics {
    const name = this.#functions.has(fn) || this.#functions.size < MAX_FUNCTIONS ? fn : "other";
    let entry = this.#functions.get(name);
    if (entry === undefined) {
      const buckets = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
      entry = { function: name, outcomes: {}, buckets, sum: 0 };
      this.#functions.set(name, entry);
    }
    return entry;
  }
}
