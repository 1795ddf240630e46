/**
 * `GET /apps/:app/metrics`: the per-function counters behind `/metrics` as JSON for one
 * application (the dashboard's rate and latency charts). Cumulative: readers take differences.
 */
import type { FastifyInstance, FastifyPluginCallback } from "fastify";
import type { ControlPlaneService } from "../../service.js";
import { appParams, errorResponses } from "../schemas.js";

const functionSchema = {
  type: "object",
  properties: {
    function: { type: "string" },
    outcomes: {
      type: "object",
      additionalProperties: { type: "integer" },
      description: 'invocations by outcome: "ok" or an error code',
    },
    count: { type: "integer" },
    latencySumSeconds: { type: "number" },
  },
  required: ["function", "outcomes", "count", "latencySumSeconds"],
};

const processSchema = {
  type: "object",
  properties: {
    process: { type: "string", description: 'its name, or "other" past the first 20' },
    functions: { type: "array", items: functionSchema },
    inflight: { type: "integer" },
    stateBytes: { type: "integer" },
    stateKeys: { type: "integer" },
    mailboxDepth: { type: "integer" },
  },
  required: ["process", "functions"],
};

const summarySchema = {
  summary: "Per-process, per-function invocation counters of an application (cumulative)",
  tags: ["apps"],
  params: appParams,
  response: {
    200: {
      type: "object",
      properties: {
        app: { type: "string" },
        at: { type: "number", description: "when read, ms since the epoch" },
        processes: { type: "array", items: processSchema },
      },
      required: ["app", "at", "processes"],
    },
    ...errorResponses,
  },
};

export function appMetricsRoutes(service: ControlPlaneService): FastifyPluginCallback {
  return (app: FastifyInstance, _options, done) => {
    app.get<{ Params: { app: string } }>(
      "/apps/:app/metrics",
      { schema: summarySchema },
      (request) => service.metricsSummary(request.params.app),
    );
    done();
  };
}
