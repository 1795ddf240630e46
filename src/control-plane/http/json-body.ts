/** Routes with small JSON bodies where "no body" means "all defaults". */
import type { FastifyInstance, FastifyRequest } from "fastify";

/** JSON only (in this encapsulated plugin), and an empty body means `{}`. */
export function acceptJsonOrEmpty(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (body.length === 0) return done(null, {});
    return parseJson(request, body.toString(), done);
  });
}

/** A request without any body (not even a content type) is validated as `{}`; `null` is not. */
export function defaultToEmptyObject(
  request: FastifyRequest,
  _reply: unknown,
  done: () => void,
): void {
  if (request.body === undefined) request.body = {};
  done();
}
