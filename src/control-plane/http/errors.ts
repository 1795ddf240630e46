/**
 * The one error handler of the HTTP API: every failure leaves as
 * `{ error: { code, message, errorName? } }` with the status from HTTP_STATUS.
 */
import { STATUS_CODES, maxHeaderSize } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  HTTP_STATUS,
  NAME_RULE,
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

/**
 * Errors Fastify's router raises before any route runs (a path that does not decode, a path
 * parameter over the router's length cap): without this Fastify answers them with its own
 * body, not the API's. The request has no route here, so nothing may read its route options.
 */
export function handleFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const known = frameworkErrorRecord(error);
  request.log.debug({ err: error }, `${known.code}: ${known.message}`);
  void sendError(reply, known);
}

function frameworkErrorRecord(error: FastifyError): ErrorRecord {
  // Every path parameter of the API is a name of some kind (application, process, function,
  // secret, dashboard file), so an over-long one is an invalid name.
  if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
    return record("INVALID_NAME", `a name in the path is far too long: ${NAME_RULE}`);
  }
  if (error.code === "FST_ERR_BAD_URL") {
    return record("BAD_REQUEST", "the request path is not valid percent-encoding");
  }
  return record("INTERNAL", "internal error");
}

/** What Node's HTTP parser refused, as a record (see handleClientError). */
function connectionErrorRecord(error: Error & { code?: string }): ErrorRecord {
  if (error.code === "HPE_HEADER_OVERFLOW") {
    const message = `the request line and headers are larger than the limit of ${maxHeaderSize} bytes`;
    return record("PAYLOAD_TOO_LARGE", message);
  }
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    return record("TIMEOUT", "the request did not arrive in time");
  }
  return record("BAD_REQUEST", "malformed HTTP request");
}

function rawResponse(known: ErrorRecord): string {
  const status = HTTP_STATUS[known.code];
  const body: ErrorBody = { error: known };
  const text = JSON.stringify(body);
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nConnection: close\r\n`;
  const type = `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}`;
  return `${head}${type}\r\n\r\n${text}`;
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (a request head over Node's
 * header size limit, bytes that are not HTTP). Fastify's default handler answers them with a
 * body of its own shape; this one answers with the API's, on the raw socket, as it does.
 */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  if (socket.writable) socket.write(rawResponse(connectionErrorRecord(error)));
  socket.destroy(error);
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
}
