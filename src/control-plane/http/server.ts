/**
 * The control-plane HTTP API (README, "HTTP API"): a thin Fastify adapter
 * over ControlPlaneService. The caller decides the port, TLS material and limits; nothing here
 * reads the environment.
 */
import { maxHeaderSize } from "node:http";
import {
  fastify,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
} from "fastify";
import fastifySwagger from "@fastify/swagger";
import type { Registry } from "prom-client";
import type { Logger } from "../../logging/index.js";
import type { ControlPlaneService } from "../service.js";
import { installAuth } from "./auth.js";
import { handleClientError, handleFrameworkError, installErrorHandlers } from "./errors.js";
import { createHttpMetrics, installMetricsHooks } from "./metrics.js";
import { installNameCheck } from "./names.js";
import { DebugRequestLog } from "./request-log.js";
import { appMetricsRoutes } from "./routes/app-metrics.js";
import { appRoutes } from "./routes/apps.js";
import { invokeRoutes } from "./routes/invoke.js";
import { httpHandlerRoutes } from "./routes/http-handler.js";
import { logRoutes } from "./routes/logs.js";
import { processRoutes } from "./routes/processes.js";
import { rollbackRoutes } from "./routes/rollback.js";
import { secretRoutes } from "./routes/secrets.js";
import { systemRoutes } from "./routes/system.js";
import { defaultUiDir, uiRoutes } from "./routes/ui.js";
import { addSharedSchemas } from "./schemas.js";

export interface HttpOptions {
  logger: Logger;
  /** When set, every route but /healthz needs `Authorization: Bearer <apiToken>`. */
  apiToken?: string;
  /** Serve HTTPS with this PEM certificate and key. */
  https?: { cert: string | Buffer; key: string | Buffer };
  /** Cap on app tarballs and invocation payloads (e.g. 64 MiB). */
  bodyLimitBytes: number;
  /** Cap on JSON bodies; 64 KiB by default. */
  jsonBodyLimitBytes?: number;
  metrics: { registry: Registry };
  /** The dashboard's built files (default: dist/ui of this package). */
  uiDir?: string;
}

export const DEFAULT_JSON_BODY_LIMIT = 64 * 1024;

/**
 * The router's cap on one path parameter. Fastify's default (100) is longer than a name may be
 * but short enough that Fastify refused longer names itself, with its own 414 body; at the
 * size of the whole request head Node accepts, a parameter can never pass it, so the
 * project's own checks (assertName, the routes' own) always answer.
 */
const MAX_PARAM_LENGTH = maxHeaderSize;

function serverOptions(options: HttpOptions) {
  // Widened to Fastify's logger type so the instance is a plain FastifyInstance.
  const loggerInstance: FastifyBaseLogger = options.logger;
  return {
    loggerInstance,
    logController: new DebugRequestLog(),
    bodyLimit: options.jsonBodyLimitBytes ?? DEFAULT_JSON_BODY_LIMIT,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: handleFrameworkError,
    clientErrorHandler: handleClientError,
    ajv: {
      // Reject, never repair: no silent dropping of unknown fields, no "2" → 2 coercion.
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false },
    },
  } satisfies FastifyServerOptions;
}

function newFastify(options: HttpOptions): FastifyInstance {
  const base = serverOptions(options);
  if (options.https === undefined) return fastify(base);
  return fastify({ ...base, https: options.https });
}

function schemaId(json: Record<string, unknown>): string | undefined {
  return typeof json.$id === "string" ? json.$id : undefined;
}

/** The document is generated from the route schemas; bearer auth is listed when it is on. */
async function registerOpenApi(app: FastifyInstance, secured: boolean): Promise<void> {
  const auth = {
    components: { securitySchemes: { bearer: { type: "http" as const, scheme: "bearer" } } },
    security: [{ bearer: [] }],
  };
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "PraaS control plane", version: "1" },
      ...(secured ? auth : {}),
    },
    // Name components after the shared schemas' $id (AppInfo, ...) rather than def-0, def-1.
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) => schemaId(json) ?? `def-${i}`,
    },
  });
}

export async function createHttpServer(
  service: ControlPlaneService,
  options: HttpOptions,
): Promise<FastifyInstance> {
  const app = newFastify(options);
  installErrorHandlers(app);
  // Hook order matters: auth first, then names, both before any body is read.
  installAuth(app, options.apiToken);
  installNameCheck(app);
  installMetricsHooks(app, createHttpMetrics(options.metrics.registry));
  addSharedSchemas(app);
  await registerOpenApi(app, options.apiToken !== undefined);
  await app.register(systemRoutes(service, options.metrics.registry));
  await app.register(appRoutes(service, options.bodyLimitBytes));
  await app.register(processRoutes(service));
  await app.register(rollbackRoutes(service));
  await app.register(secretRoutes(service));
  await app.register(invokeRoutes(service, options.bodyLimitBytes));
  await app.register(logRoutes(service));
  const hasToken = options.apiToken !== undefined;
  await app.register(httpHandlerRoutes(service, options.bodyLimitBytes, hasToken));
  await app.register(appMetricsRoutes(service));
  await app.register(uiRoutes(options.uiDir ?? defaultUiDir()));
  return app;
}
