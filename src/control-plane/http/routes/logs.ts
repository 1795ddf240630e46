/**
 * `GET /apps/:app/logs[?process=P&since=5m&follow=1]`: the application's recent function logs,
 * as JSON lines, or as Server-Sent Events (`event: log`, `data: <record>`) when the client
 * sends `Accept: text/event-stream`. With `follow`, the response stays open and every new
 * line is sent as it arrives; a client that does not keep up loses lines (and is told how
 * many) rather than growing this replica's memory.
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { assertName, parseSince, type LogRecord } from "../../../protocol/index.js";
import type { LogFilter } from "../../log-hub.js";
import type { ControlPlaneService } from "../../service.js";
import { appParams, errorResponses, ref } from "../schemas.js";

interface LogsRoute {
  Params: { app: string };
  Querystring: { process?: string; since?: string; follow?: string };
}

/** Unsent bytes past which a follower's lines are dropped. */
const FOLLOWER_BACKLOG_BYTES = 1024 * 1024;
/** A comment line now and then, so proxies keep the stream and dead clients are noticed. */
const KEEPALIVE_MS = 15_000;

const logsSchema = {
  summary: "Function logs of an application (JSON lines, or Server-Sent Events)",
  tags: ["logs"],
  params: appParams,
  querystring: {
    type: "object",
    properties: {
      process: { type: "string", description: "only this process's lines" },
      since: { type: "string", description: "a duration back (30s, 5m, 2h) or an ISO time" },
      follow: { type: "string", enum: ["1", "true", "0", "false"], description: "stay open" },
    },
    additionalProperties: false,
  },
  response: {
    200: {
      description: "one LogRecord per line (application/x-ndjson) or per event (text/event-stream)",
      content: {
        "application/x-ndjson": { schema: ref("LogRecord") },
        "text/event-stream": { schema: { type: "string" } },
      },
    },
    ...errorResponses,
  },
};

type Encode = (record: LogRecord) => string;

const asJsonLine: Encode = (record) => `${JSON.stringify(record)}\n`;
const asEvent: Encode = (record) => `event: log\ndata: ${JSON.stringify(record)}\n\n`;

function filterOf(query: LogsRoute["Querystring"]): LogFilter {
  if (query.process !== undefined) assertName(query.process, "process");
  return {
    process: query.process,
    sinceMs: query.since === undefined ? undefined : parseSince(query.since),
  };
}

function wantsEvents(request: FastifyRequest): boolean {
  return (request.headers.accept ?? "").includes("text/event-stream");
}

export function logRoutes(service: ControlPlaneService): FastifyPluginCallback {
  return (app: FastifyInstance, _options, done) => {
    app.get<LogsRoute>("/apps/:app/logs", { schema: logsSchema }, async (request, reply) => {
      const filter = filterOf(request.query);
      const records = await service.logs(request.params.app, filter);
      const events = wantsEvents(request);
      const follow = request.query.follow === "1" || request.query.follow === "true";
      const encode = events ? asEvent : asJsonLine;
      const type = events ? "text/event-stream" : "application/x-ndjson";
      if (!follow) return reply.type(type).send(records.map(encode).join(""));
      stream(request, reply, type, encode, (listener) =>
        service.followLogs(request.params.app, filter, listener),
      );
      for (const record of records) reply.raw.write(encode(record));
      return reply;
    });
    done();
  };
}

/** Takes the response over and writes each followed line until the client goes. */
function stream(
  request: FastifyRequest,
  reply: FastifyReply,
  type: string,
  encode: Encode,
  subscribe: (listener: (record: LogRecord) => void) => () => void,
): void {
  reply.hijack();
  reply.raw.writeHead(200, { "content-type": type, "cache-control": "no-cache" });
  // Now, not with the first line: a client of a quiet application would otherwise wait for the
  // first keepalive to learn that it follows (and one stopped meanwhile saw a failed request).
  reply.raw.flushHeaders();
  let dropped = 0;
  const unsubscribe = subscribe((record) => {
    if (reply.raw.writableLength > FOLLOWER_BACKLOG_BYTES) {
      dropped++;
      return;
    }
    if (dropped > 0) reply.raw.write(encode(droppedNote(record, dropped)));
    dropped = 0;
    reply.raw.write(encode(record));
  });
  const keepalive = setInterval(
    () => reply.raw.write(encode === asEvent ? ": keepalive\n\n" : "\n"),
    KEEPALIVE_MS,
  );
  request.raw.socket.once("close", () => {
    clearInterval(keepalive);
    unsubscribe();
  });
}

function droppedNote(next: LogRecord, dropped: number): LogRecord {
  const message = `${dropped} log lines were dropped: this client did not read fast enough`;
  return {
    time: next.time,
    level: "warn",
    stream: "system",
    app: next.app,
    process: next.process,
    message,
  };
}
