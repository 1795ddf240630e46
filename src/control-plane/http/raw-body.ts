/**
 * Routes whose body is bytes (app tarballs, invocation payloads): the body is handed over as a
 * Buffer, never parsed, with its own (larger) size limit.
 */
import type { FastifyInstance } from "fastify";
import type { SwaggerTransform } from "@fastify/swagger";
import { binary } from "./schemas.js";

/**
 * Replaces every parser of this (encapsulated) plugin with a Buffer parser for `types`
 * ("*" = any content type, including none), so e.g. a JSON payload is not JSON-parsed.
 */
export function acceptRawBodies(
  app: FastifyInstance,
  types: "*" | string[],
  bodyLimit: number,
): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(types, { parseAs: "buffer", bodyLimit }, (_request, body, done) => {
    done(null, body);
  });
}

/** The body as bytes; a request without a body is an empty payload. */
export function bodyBytes(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

/**
 * A raw body cannot have a body schema (the validator would reject a Buffer), so it is added
 * to the OpenAPI document only.
 */
export function documentRawBody(consumes: readonly string[]): SwaggerTransform {
  return ({ schema, url }) => ({ schema: { ...schema, body: binary, consumes }, url });
}
