/**
 * HTTP-shaped functions, like a Worker: any method on `/apps/:app/processes/:proc/http/*` runs
 * the application's exported `fetch(request, ctx)` in that process (resumed first when
 * swapped), with the method, the path below `/http`, the headers and the body; its response's
 * status, headers and body are returned as they are. Hop-by-hop headers are dropped both ways,
 * and so is the `authorization` header when the API has a token (it is the platform's).
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import {
  HTTP_HANDLER_CALL,
  decodeHttpResponse,
  encodeHttpRequest,
  type HeaderPairs,
} from "../../../protocol/index.js";
import type { ControlPlaneService } from "../../service.js";
import { acceptRawBodies, bodyBytes } from "../raw-body.js";
import { processParams } from "../schemas.js";

/** Meaningful for one connection only (RFC 9110 §7.6.1), or recomputed here. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length",
]);

const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] as const;

interface HttpRoute {
  Params: { app: string; proc: string };
}

/** The request line's path below `/http`, query included ("/" when nothing follows). */
function pathBelow(url: string, app: string, proc: string): string {
  const prefix = `/apps/${encodeURIComponent(app)}/processes/${encodeURIComponent(proc)}/http`;
  const rest = url.startsWith(prefix) ? url.slice(prefix.length) : "/";
  return rest === "" || rest.startsWith("?") ? `/${rest}` : rest;
}

function requestHeaders(request: FastifyRequest, stripAuthorization: boolean): HeaderPairs {
  const raw = request.raw.rawHeaders;
  const pairs: HeaderPairs = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(name) || (stripAuthorization && name === "authorization")) continue;
    pairs.push([name, raw[i + 1] as string]);
  }
  return pairs;
}

function sendResponse(reply: FastifyReply, output: Uint8Array): FastifyReply {
  const response = decodeHttpResponse(output);
  const grouped = new Map<string, string[]>();
  for (const [name, value] of response.headers) {
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    grouped.set(name, [...(grouped.get(name) ?? []), value]);
  }
  reply.code(response.status);
  for (const [name, values] of grouped)
    reply.header(name, values.length === 1 ? values[0] : values);
  return reply.send(Buffer.from(response.body));
}

export function httpHandlerRoutes(
  service: ControlPlaneService,
  bodyLimit: number,
  hasApiToken: boolean,
): FastifyPluginCallback {
  return (app: FastifyInstance, _options, done) => {
    acceptRawBodies(app, "*", bodyLimit);
    const handle = async (request: FastifyRequest<HttpRoute>, reply: FastifyReply) => {
      const { app: appName, proc } = request.params;
      const envelope = encodeHttpRequest({
        method: request.method,
        path: pathBelow(request.url, appName, proc),
        headers: requestHeaders(request, hasApiToken),
        body: bodyBytes(request.body),
      });
      const result = await service.invoke(appName, HTTP_HANDLER_CALL, envelope, proc);
      return sendResponse(reply, result.output);
    };
    const summary = "Run the application's fetch(request, ctx) handler in this process";
    const response = { 200: { description: "the handler's response (any status), as it made it" } };
    const schema = { summary, tags: ["invoke"], params: processParams, response };
    const options = { bodyLimit, schema };
    for (const url of ["/apps/:app/processes/:proc/http", "/apps/:app/processes/:proc/http/*"])
      app.route<HttpRoute>({ method: [...METHODS], url, ...options, handler: handle });
    done();
  };
}
