/**
 * The warm pool in `/metrics`: a gauge of idle members and counters of takes and misses, read
 * from the backend at every scrape (the backend knows nothing of Prometheus). A backend without
 * a pool shows 0 idle and no takes.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { WarmPoolStats } from "../backends/index.js";

export function registerWarmPoolMetrics(
  registry: Registry,
  stats: () => WarmPoolStats | undefined,
): void {
  new Gauge({
    name: "praas_warm_pool_idle",
    help: "warm-pool runtimes started and waiting for a process",
    registers: [registry],
    collect() {
      this.set(stats()?.idle ?? 0);
    },
  });
  counterOf(
    registry,
    "praas_warm_pool_takes_total",
    "creates and resumes that took a warm runtime",
    () => stats()?.takes ?? 0,
  );
  counterOf(
    registry,
    "praas_warm_pool_misses_total",
    "creates and resumes that started a runtime of their own",
    () => stats()?.misses ?? 0,
  );
}

/** A counter whose value the backend keeps: set to it at each scrape. */
function counterOf(registry: Registry, name: string, help: string, value: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(value());
    },
  });
}
