/**
 * Invocation through the control plane: the request body is the payload and the response body
 * is the output, both raw bytes of any content type (no JSON, no base64); an output that is a
 * JSON object or array is labelled `application/json`.
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest } from "fastify";
import type { ControlPlaneService } from "../../service.js";
import { PROCESS_HEADER, assertName } from "../../../protocol/index.js";
import { acceptRawBodies, bodyBytes, documentRawBody } from "../raw-body.js";
import { resultContentType } from "../result-type.js";
import { binary, errorResponses, functionParams } from "../schemas.js";

type Done = () => void;

interface InvokeRoute {
  Params: { app: string; fn: string };
  Querystring: { process?: string; create?: "true" | "false" };
}

const invokeSchema = {
  summary: "Invoke a function; ?process=NAME makes it sticky (a swapped process is resumed)",
  tags: ["invoke"],
  params: functionParams,
  querystring: {
    type: "object",
    properties: {
      process: { type: "string", description: "the process to run on" },
      create: {
        type: "string",
        enum: ["true", "false"],
        description: "with process: create it (application defaults) when it does not exist",
      },
    },
  },
  response: {
    200: {
      description: "the function's output (application/json when it is a JSON object or array)",
      headers: { [PROCESS_HEADER]: { type: "string", description: "the process that ran it" } },
      content: { "application/octet-stream": { schema: binary } },
    },
    ...errorResponses,
  },
};

/** Checked before the (possibly large) body is read, like the path names. */
function checkProcessName(request: FastifyRequest<InvokeRoute>, _reply: unknown, done: Done): void {
  const { process } = request.query;
  if (process !== undefined) assertName(process, "process");
  done();
}

/**
 * The payload is bytes whatever its declared type, so the type is dropped before parsing:
 * otherwise Fastify refuses a malformed or empty Content-Type with 415 before any parser runs.
 */
function ignoreContentType(request: FastifyRequest, _reply: unknown, done: Done): void {
  delete request.headers["content-type"];
  done();
}

export function invokeRoutes(
  service: ControlPlaneService,
  bodyLimit: number,
): FastifyPluginCallback {
  return (app: FastifyInstance, _options, done) => {
    acceptRawBodies(app, "*", bodyLimit);
    const config = { swaggerTransform: documentRawBody(["application/octet-stream"]) };
    const options = {
      bodyLimit,
      config,
      schema: invokeSchema,
      onRequest: [checkProcessName, ignoreContentType],
    };

    app.post<InvokeRoute>("/apps/:app/invoke/:fn", options, async (request, reply) => {
      const { app: appName, fn } = request.params;
      const payload = bodyBytes(request.body);
      const { process, create } = request.query;
      const options = { create: create === "true" };
      const result = await service.invoke(appName, fn, payload, process, options);
      reply.header(PROCESS_HEADER, result.process).type(resultContentType(result.output));
      return reply.send(result.output);
    });
    done();
  };
}
