/** Builds an HTTP server over a FakeService for inject()-based tests. */
import { pino } from "pino";
import { Registry } from "prom-client";
import type { FastifyInstance } from "fastify";
import { createHttpServer, type HttpOptions } from "../../../src/control-plane/http/server.js";
import { FakeService } from "./fake-service.js";

export interface Harness {
  app: FastifyInstance;
  service: FakeService;
  registry: Registry;
}

export const TEST_BODY_LIMIT = 2 * 1024 * 1024;

export async function startHarness(options: Partial<HttpOptions> = {}): Promise<Harness> {
  const service = new FakeService();
  const registry = new Registry();
  const app = await createHttpServer(service, {
    logger: pino({ level: "silent" }),
    bodyLimitBytes: TEST_BODY_LIMIT,
    metrics: { registry },
    ...options,
  });
  return { app, service, registry };
}

/** The `{ error }` body of a failed response. */
export function errorOf(response: { json: () => unknown }): { code: string; message: string } {
  return (response.json() as { error: { code: string; message: string } }).error;
}
