/**
 * Prometheus metrics of the HTTP API, kept in the registry the caller gives us (never the
 * global one), so two servers in one process (tests, replicas) do not collide.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Counter, Histogram, collectDefaultMetrics, type Registry } from "prom-client";

const REQUESTS = "praas_http_requests_total";
const DURATION = "praas_http_request_duration_seconds";
const LABELS = ["method", "route", "status"] as const;
type Label = (typeof LABELS)[number];

/** A metric any default collection registers; its presence means defaults are already there. */
const DEFAULT_METRIC_PROBE = "process_cpu_user_seconds_total";

export interface HttpMetrics {
  requests: Counter<Label>;
  duration: Histogram<Label>;
}

/** Reuses the metrics when a second server shares the registry (registering twice throws). */
function counter(registry: Registry): Counter<Label> {
  const existing = registry.getSingleMetric(REQUESTS);
  if (existing instanceof Counter) return existing;
  const help = "HTTP requests served, by method, route and status";
  return new Counter({ name: REQUESTS, help, labelNames: LABELS, registers: [registry] });
}

function histogram(registry: Registry): Histogram<Label> {
  const existing = registry.getSingleMetric(DURATION);
  if (existing instanceof Histogram) return existing;
  const help = "HTTP request duration in seconds, by method, route and status";
  return new Histogram({ name: DURATION, help, labelNames: LABELS, registers: [registry] });
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  if (registry.getSingleMetric(DEFAULT_METRIC_PROBE) === undefined) {
    collectDefaultMetrics({ register: registry });
  }
  return { requests: counter(registry), duration: histogram(registry) };
}

/** The route pattern, not the URL, keeps label cardinality bounded. */
function labels(request: FastifyRequest, reply: FastifyReply): Record<Label, string> {
  const route = request.routeOptions.url ?? "unmatched";
  return { method: request.method, route, status: String(reply.statusCode) };
}

/** Counts and times every response, errors and 404s included. */
export function installMetricsHooks(app: FastifyInstance, metrics: HttpMetrics): void {
  app.addHook("onResponse", (request, reply, done) => {
    const values = labels(request, reply);
    metrics.requests.inc(values);
    metrics.duration.observe(values, reply.elapsedTime / 1000);
    done();
  });
}
