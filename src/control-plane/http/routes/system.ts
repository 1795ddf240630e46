/** Health, Prometheus metrics and the OpenAPI document. */
import type { FastifyInstance, FastifyPluginCallback } from "fastify";
import type { Registry } from "prom-client";
import type { ControlPlaneService } from "../../service.js";
import { errorResponses, ref } from "../schemas.js";

const healthSchema = {
  summary: "Health of this replica (no token needed)",
  description:
    "status degraded while the metadata store does not answer a PING within 500 ms; still 200.",
  tags: ["system"],
  security: [],
  response: { 200: ref("Health"), ...errorResponses },
};

const metricsSchema = {
  summary: "Prometheus metrics",
  tags: ["system"],
  response: {
    200: {
      description: "Prometheus text exposition format",
      content: { "text/plain": { schema: { type: "string" } } },
    },
  },
};

const openapiSchema = {
  summary: "This API as an OpenAPI 3 document",
  tags: ["system"],
  response: { 200: { type: "object", additionalProperties: true } },
};

export function systemRoutes(
  service: ControlPlaneService,
  registry: Registry,
): FastifyPluginCallback {
  return (app: FastifyInstance, _options, done) => {
    // 200 even when degraded: every replica shares the one Redis, so a load balancer that took
    // out replicas whose Redis is down would take out all of them, and with them what they can
    // still serve (invocations of active processes). The body tells monitors what is wrong.
    app.get("/healthz", { schema: healthSchema }, () => service.health());
    app.get("/metrics", { schema: metricsSchema }, async (_request, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    });
    app.get("/openapi.json", { schema: openapiSchema }, () => app.swagger());
    done();
  };
}
