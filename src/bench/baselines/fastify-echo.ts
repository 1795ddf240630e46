/**
 * The control-plane baseline: a bare Fastify echo route in the bench's own process, taking
 * the body as a Buffer (no parsing) like the control plane's invoke route.
 */
import type { AddressInfo } from "node:net";
import { fastify } from "fastify";

export interface FastifyEcho {
  url: string;
  stop(): Promise<void>;
}

const BODY_LIMIT = 64 * 1024 * 1024;

export async function startFastifyEcho(): Promise<FastifyEcho> {
  const app = fastify({ bodyLimit: BODY_LIMIT });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  app.post("/echo", (request, reply) => {
    void reply.type("application/octet-stream").send(request.body);
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, stop: () => app.close() };
}

/** A bare Fastify GET route answering these bytes as JSON: the density listing's baseline. */
export async function startFastifyBody(body: Buffer): Promise<FastifyEcho> {
  const app = fastify();
  app.get("/body", (_request, reply) => {
    void reply.type("application/json; charset=utf-8").send(body);
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, stop: () => app.close() };
}
