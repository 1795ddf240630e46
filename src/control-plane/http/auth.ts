/**
 * Bearer-token authentication. It runs as an onRequest hook, before the body is read, so an
 * unauthenticated client cannot make the server buffer a large upload.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { sendError } from "./errors.js";
import { UI_ROUTES } from "./routes/ui.js";

/**
 * Routes anyone may call: load balancers probe health without a token, and the dashboard's
 * static files hold no data (the page asks for the token, then sends it with every data call).
 */
const PUBLIC_ROUTES: ReadonlySet<string> = new Set(["/healthz", ...UI_ROUTES]);

/** Hashing first gives equal lengths, so the comparison time says nothing about the token. */
function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

export function tokenMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer +(\S+)\s*$/i.exec(header ?? "");
  const given = digest(match?.[1] ?? "");
  // Always compare, even when the header is missing, to keep timing uniform.
  return timingSafeEqual(given, expected) && match !== null;
}

function isAllowed(request: FastifyRequest, expected: Buffer): boolean {
  if (PUBLIC_ROUTES.has(request.routeOptions.url ?? "")) return true;
  return tokenMatches(request.headers.authorization, expected);
}

export function installAuth(app: FastifyInstance, apiToken: string | undefined): void {
  if (apiToken === undefined) return;
  const expected = digest(apiToken);
  app.addHook("onRequest", (request, reply, done) => {
    if (isAllowed(request, expected)) {
      done();
      return;
    }
    // Answering without calling done() ends the request here: no body read, no handler.
    reply.header("www-authenticate", 'Bearer realm="praas"');
    sendError(reply, { code: "UNAUTHORIZED", message: "missing or wrong bearer token" });
  });
}
