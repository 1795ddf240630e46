/**
 * The one error handler of the HTTP API: every failure leaves as
 * `{ error: { code, message, errorName? } }` with the status from HTTP_STATUS.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  HTTP_STATUS,
  PraaSError,
  type ErrorBody,
  type ErrorCode,
  type ErrorRecord,
} from "../../protocol/index.js";

export function sendError(reply: FastifyReply, record: ErrorRecord): FastifyReply {
  const body: ErrorBody = { error: record };
  return reply.code(HTTP_STATUS[record.code]).type("application/json").send(body);
}

/**
 * Fastify's own errors (and body-parsing errors such as a JSON SyntaxError) carry a `code`
 * such as FST_ERR_VALIDATION and/or an HTTP `statusCode`. A bare SyntaxError without a status
 * is a bug elsewhere, not malformed input.
 */
function isFastifyError(error: unknown): error is FastifyError {
  if (!(error instanceof Error)) return false;
  const { code, statusCode } = error as Partial<FastifyError>;
  return typeof code === "string" || typeof statusCode === "number";
}

function record(code: ErrorCode, message: string): ErrorRecord {
  return { code, message };
}

function tooLarge(request: FastifyRequest): ErrorRecord {
  const limit = request.routeOptions.bodyLimit;
  return record("PAYLOAD_TOO_LARGE", `request body is larger than the limit of ${limit} bytes`);
}

function unsupportedMediaType(request: FastifyRequest): ErrorRecord {
  const type = request.headers["content-type"] ?? "(none)";
  return record("BAD_REQUEST", `unsupported content type ${type} for ${routeLabel(request)}`);
}

function routeLabel(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? request.url}`;
}

/** Maps a Fastify error (validation, body parsing, limits) to a record; undefined if not ours. */
function fastifyErrorRecord(error: FastifyError, request: FastifyRequest): ErrorRecord | undefined {
  if (error.validation !== undefined) return record("BAD_REQUEST", error.message);
  if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE" || error.statusCode === 413) {
    return tooLarge(request);
  }
  if (error.code === "FST_ERR_CTP_INVALID_JSON_BODY" || error instanceof SyntaxError) {
    return record("BAD_REQUEST", "the request body is not valid JSON");
  }
  if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return unsupportedMediaType(request);
  const status = error.statusCode ?? 500;
  // Any other client error from Fastify (bad content-length, empty JSON, ...) is a bad request.
  if (status >= 400 && status < 500) return record("BAD_REQUEST", error.message);
  return undefined;
}

/** What the client sees for `error`, or undefined when it is a bug (500 INTERNAL). */
export function clientErrorRecord(
  error: unknown,
  request: FastifyRequest,
): ErrorRecord | undefined {
  if (error instanceof PraaSError) return error.toRecord();
  if (isFastifyError(error)) return fastifyErrorRecord(error, request);
  return undefined;
}

/** Failures of ours (storage, backend, ...) are worth a warning; client and user-code errors not. */
function logLevel(code: ErrorCode): "warn" | "debug" {
  return HTTP_STATUS[code] >= 500 && code !== "FUNCTION_ERROR" ? "warn" : "debug";
}

function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const known = clientErrorRecord(error, request);
  if (known !== undefined) {
    request.log[logLevel(known.code)]({ err: error }, `${known.code}: ${known.message}`);
    return sendError(reply, known);
  }
  // A bug: log everything, show nothing of the stack.
  request.log.error({ err: error }, `unhandled error in ${routeLabel(request)}`);
  return sendError(reply, record("INTERNAL", "internal error"));
}

function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split("?")[0] ?? request.url;
  const body: ErrorBody = {
    error: { code: "NOT_FOUND", message: `no route ${request.method} ${path}` },
  };
  return reply.code(404).type("application/json").send(body);
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
}
