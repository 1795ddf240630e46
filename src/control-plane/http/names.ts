/**
 * Names in the URL are checked with assertName before the body is read and before anything
 * reaches the service: they end up in blob keys and Redis keys.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { assertName } from "../../protocol/index.js";

/** Which kind of name each path parameter holds, for the error message. */
const NAME_PARAMS: Readonly<Record<string, string>> = {
  app: "application",
  proc: "process",
  fn: "function",
};

export function checkPathNames(request: FastifyRequest): void {
  const params = request.params;
  if (typeof params !== "object" || params === null) return;
  for (const [key, value] of Object.entries(params)) {
    const what = NAME_PARAMS[key];
    if (what !== undefined) assertName(value, what);
  }
}

/** Registered after auth, so an unauthenticated client learns nothing about names. */
export function installNameCheck(app: FastifyInstance): void {
  // A throw from a callback-style hook reaches the error handler (INVALID_NAME, 400).
  app.addHook("onRequest", (request, _reply, done) => {
    checkPathNames(request);
    done();
  });
}
