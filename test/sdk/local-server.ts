// A tiny real HTTP(S) server standing in for the control plane's wire format: it records each
// request and answers with whatever the test's handler returns.
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer, type AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string or bytes as they are. */
  body?: unknown;
}

export type Handler = (request: RecordedRequest) => Reply | "hang";

export interface LocalServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function encode(body: unknown): { bytes: Buffer; type: string } {
  if (body instanceof Uint8Array)
    return { bytes: Buffer.from(body), type: "application/octet-stream" };
  if (typeof body === "string") return { bytes: Buffer.from(body), type: "text/plain" };
  return { bytes: Buffer.from(JSON.stringify(body ?? {})), type: "application/json" };
}

function serve(server: Server, handler: Handler, requests: RecordedRequest[]): void {
  server.on("request", (req: IncomingMessage, res) => {
    void readBody(req).then((body) => {
      const recorded = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      requests.push(recorded);
      const reply = handler(recorded);
      if (reply === "hang") return;
      const { bytes, type } = encode(reply.body);
      res.writeHead(reply.status ?? 200, { "content-type": type, ...reply.headers });
      res.end(bytes);
    });
  });
}

async function listen(server: Server, scheme: "http" | "https"): Promise<LocalServer> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { url: `${scheme}://127.0.0.1:${port}`, port, requests: [], close };
}

export async function startLocalServer(handler: Handler): Promise<LocalServer> {
  const server = createHttpServer();
  const local = await listen(server, "http");
  serve(server, handler, local.requests);
  return local;
}

export async function startLocalHttpsServer(
  tls: { cert: string; key: string },
  handler: Handler,
): Promise<LocalServer> {
  const server = createHttpsServer(tls);
  const local = await listen(server, "https");
  serve(server, handler, local.requests);
  return local;
}

/** A loopback port nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
