/**
 * Per-application, per-function and per-process series on `/metrics`, from the counters every
 * process reports with its log batches (cumulative since the process started; a restarted
 * process starts from zero, which is folded in so the series here only grow).
 *
 * Label cardinality is bounded: per application, the first {@link MAX_PROCESS_LABELS}
 * processes seen keep their name and later ones are counted under `process="other"`; a process
 * reports at most 64 functions (more fold into `function="other"`); outcomes are "ok" or an
 * error code (a closed list).
 */
import { Counter, Gauge, type Registry } from "prom-client";
import {
  LATENCY_BUCKETS_SECONDS,
  type FunctionMetrics,
  type FunctionSummary,
  type ProcessSummary,
  type ProcessMetricsReport,
} from "../protocol/index.js";

export const MAX_PROCESS_LABELS = 20;
const DURATION = "praas_function_duration_seconds";
/** Gauges of a process that stopped reporting (it reports at least every 5 s) are dropped. */
const STALE_MS = 15_000;

interface Totals {
  outcomes: Record<string, number>;
  buckets: number[];
  sum: number;
}

interface ProcessEntry {
  /** The last cumulative report, to take differences from. */
  last: Map<string, FunctionMetrics>;
  lastRestarts: Record<string, number>;
  gauges: Omit<ProcessMetricsReport, "functions" | "workerRestarts">;
  at: number;
}

export class FunctionMetricsHub {
  readonly #processes = new Map<string, ProcessEntry>();
  /** Grown totals by `app\0process-label\0function`. */
  readonly #totals = new Map<string, Totals>();
  readonly #restarts = new Map<string, number>();
  readonly #labels = new Map<string, Set<string>>();

  constructor(registry: Registry) {
    register(registry, this);
  }

  ingest(app: string, process: string, report: ProcessMetricsReport): void {
    const id = `${app}/${process}`;
    const entry = this.#processes.get(id) ?? newEntry();
    const label = this.#label(app, process);
    for (const fn of report.functions) this.#grow(app, label, fn, entry.last.get(fn.function));
    for (const [cause, count] of Object.entries(report.workerRestarts)) {
      const before = entry.lastRestarts[cause] ?? 0;
      const key = `${app}\0${label}\0${cause}`;
      this.#restarts.set(key, (this.#restarts.get(key) ?? 0) + grown(count, before));
    }
    entry.last = new Map(report.functions.map((fn) => [fn.function, fn]));
    entry.lastRestarts = { ...report.workerRestarts };
    const { inflight, stateBytes, stateKeys, mailboxDepth } = report;
    entry.gauges = { inflight, stateBytes, stateKeys, mailboxDepth };
    entry.at = Date.now();
    this.#processes.set(id, entry);
  }

  /** A process that is gone: its gauges go (its counters stay, as counters do). */
  forget(app: string, process: string): void {
    this.#processes.delete(`${app}/${process}`);
  }

  totals(): Iterable<[string[], Totals]> {
    return [...this.#totals].map(([key, totals]) => [key.split("\0"), totals]);
  }

  restarts(): Iterable<[string[], number]> {
    return [...this.#restarts].map(([key, count]) => [key.split("\0"), count]);
  }

  /** Fresh gauges, folded by process label (`other` sums the processes past the bound). */
  gauges(): Map<string, ProcessEntry["gauges"]> {
    const out = new Map<string, ProcessEntry["gauges"]>();
    const now = Date.now();
    for (const [id, entry] of this.#processes) {
      if (now - entry.at > STALE_MS) continue;
      const [app = "", process = ""] = id.split("/");
      const key = `${app}\0${this.#label(app, process)}`;
      const sum = out.get(key) ?? { inflight: 0, stateBytes: 0, stateKeys: 0, mailboxDepth: 0 };
      sum.inflight += entry.gauges.inflight;
      sum.stateBytes += entry.gauges.stateBytes;
      sum.stateKeys += entry.gauges.stateKeys;
      sum.mailboxDepth += entry.gauges.mailboxDepth;
      out.set(key, sum);
    }
    return out;
  }

  /** One application's counters and fresh gauges, by process label (`GET /apps/:app/metrics`). */
  summary(app: string): ProcessSummary[] {
    const out = new Map<string, ProcessSummary>();
    const row = (process: string) => out.get(process) ?? { process, functions: [] };
    for (const [[owner, process = "", fn = ""], totals] of this.totals()) {
      if (owner !== app) continue;
      const summary = row(process);
      summary.functions.push(functionSummary(fn, totals));
      out.set(process, summary);
    }
    for (const [key, gauges] of this.gauges()) {
      const [owner, process = ""] = key.split("\0");
      if (owner === app) out.set(process, { ...row(process), ...gauges });
    }
    return [...out.values()];
  }

  #label(app: string, process: string): string {
    const seen = this.#labels.get(app) ?? new Set<string>();
    this.#labels.set(app, seen);
    if (seen.has(process)) return process;
    if (seen.size >= MAX_PROCESS_LABELS) return "other";
    seen.add(process);
    return process;
  }

  #grow(app: string, label: string, now: FunctionMetrics, before: FunctionMetrics | undefined) {
    const key = `${app}\0${label}\0${now.function}`;
    const totals = this.#totals.get(key) ?? { outcomes: {}, buckets: [], sum: 0 };
    for (const [outcome, count] of Object.entries(now.outcomes))
      totals.outcomes[outcome] =
        (totals.outcomes[outcome] ?? 0) + grown(count, before?.outcomes[outcome]);
    now.buckets.forEach((count, i) => {
      totals.buckets[i] = (totals.buckets[i] ?? 0) + grown(count, before?.buckets[i]);
    });
    totals.sum += grown(now.sum, before?.sum);
    this.#totals.set(key, totals);
  }
}

function functionSummary(fn: string, totals: Totals): FunctionSummary {
  const outcomes = { ...totals.outcomes };
  const count = Object.values(outcomes).reduce((sum, n) => sum + n, 0);
  return { function: fn, outcomes, count, latencySumSeconds: totals.sum };
}

function newEntry(): ProcessEntry {
  const gauges = { inflight: 0, stateBytes: 0, stateKeys: 0, mailboxDepth: 0 };
  return { last: new Map(), lastRestarts: {}, gauges, at: 0 };
}

/** How much a cumulative count grew; a smaller one means the process restarted from zero. */
function grown(now: number, before = 0): number {
  return now >= before ? now - before : now;
}

function register(registry: Registry, hub: FunctionMetricsHub): void {
  new Counter({
    name: "praas_function_invocations_total",
    help: "Invocations run by processes, by app, function, process and outcome (ok or an error code)",
    labelNames: ["app", "function", "process", "outcome"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [[app = "", process = "", fn = ""], totals] of hub.totals())
        for (const [outcome, count] of Object.entries(totals.outcomes))
          this.inc({ app, function: fn, process, outcome }, count);
    },
  });
  registry.registerMetric(latencyHistogram(hub) as never);
  new Counter({
    name: "praas_worker_restarts_total",
    help: "Workers replaced, by app, process and cause (crash, oom, timeout, start)",
    labelNames: ["app", "process", "cause"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [[app = "", process = "", cause = ""], count] of hub.restarts())
        this.inc({ app, process, cause }, count);
    },
  });
  for (const [field, name, help] of GAUGES) processGauge(registry, hub, field, name, help);
}

const GAUGES = [
  ["inflight", "praas_process_inflight_invocations", "Invocations running in the process now"],
  ["stateBytes", "praas_process_state_bytes", "Bytes of state the process holds"],
  ["stateKeys", "praas_process_state_keys", "Keys of state the process holds"],
  ["mailboxDepth", "praas_process_mailbox_depth", "Undelivered messages in the process's mailbox"],
] as const;

function processGauge(
  registry: Registry,
  hub: FunctionMetricsHub,
  field: (typeof GAUGES)[number][0],
  name: string,
  help: string,
): void {
  new Gauge({
    name,
    help,
    labelNames: ["app", "process"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, gauges] of hub.gauges()) {
        const [app = "", process = ""] = key.split("\0");
        this.set({ app, process }, gauges[field]);
      }
    },
  });
}

/** prom-client cannot take bucket counts from elsewhere: this metric hands them over as they are. */
function latencyHistogram(hub: FunctionMetricsHub) {
  const name = DURATION;
  const help =
    "Invocation latency as the process saw it (the direct path), by app, function and process";
  return {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    reset: () => undefined,
    get: () => ({ name, help, type: "histogram", aggregator: "sum", values: histogramValues(hub) }),
  };
}

function histogramValues(hub: FunctionMetricsHub) {
  const values: { metricName: string; labels: Record<string, string | number>; value: number }[] =
    [];
  for (const [[app = "", process = "", fn = ""], totals] of hub.totals()) {
    const labels = { app, function: fn, process };
    LATENCY_BUCKETS_SECONDS.forEach((bound, i) => {
      values.push({
        metricName: `${DURATION}_bucket`,
        labels: { ...labels, le: bound },
        value: totals.buckets[i] ?? 0,
      });
    });
    const count = totals.buckets[LATENCY_BUCKETS_SECONDS.length] ?? 0;
    values.push({
      metricName: `${DURATION}_bucket`,
      labels: { ...labels, le: "+Inf" },
      value: count,
    });
    values.push({ metricName: `${DURATION}_sum`, labels, value: totals.sum });
    values.push({ metricName: `${DURATION}_count`, labels, value: count });
  }
  return values;
}
