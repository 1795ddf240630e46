/** Health, Prometheus metrics and the OpenAPI document. */
import type { FastifyInstance, FastifyPluginCallback } from "fastify";
import type { Registry } from "prom-client";
import type { ControlPlaneService } from "../../service.js";
import { errorResponses, ref } from "../schemas.js";

const healthSchema = {
  summary: "Health of this replica (no token needed)",
  description:
    "503 with status degraded while the metadata store does not answer a PING within 500 ms.",
  tags: ["system"],
  security: [],
  // The 503 body is a Health too (not an error): checkers and operators read one shape.
  response: { ...errorResponses, 200: ref("Health"), 503: ref("Health") },
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
    app.get("/healthz", { schema: healthSchema }, async (_request, reply) => {
      const health = await service.health();
      // A load balancer's check reads the status code: degraded must not look healthy.
      return reply.code(health.status === "ok" ? 200 : 503).send(health);
    });
    app.get("/metrics", { schema: metricsSchema }, async (_request, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    });
    app.get("/openapi.json", { schema: openapiSchema }, () => app.swagger());
    done();
  };
}
