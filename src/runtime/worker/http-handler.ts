/**
 * The worker's side of HTTP-shaped functions: the request envelope becomes a web `Request` for
 * the application's `fetch(request, ctx)`, and what it returns becomes a response envelope: a
 * `Response` as it is, anything else as a 200 with the value as the body (JSON for objects).
 */
import {
  PraaSError,
  decodeHttpRequest,
  encodeHttpResponse,
  resultBytes,
  type HeaderPairs,
  type HttpRequestEnvelope,
  type PraaSFunction,
  overLimit,
} from "../../protocol/index.js";

/** Requests carry no body for these methods (the web Request refuses one). */
const BODYLESS = new Set(["GET", "HEAD"]);

function toRequest(envelope: HttpRequestEnvelope): Request {
  const host = envelope.headers.find(([name]) => name.toLowerCase() === "host")?.[1];
  try {
    return new Request(new URL(envelope.path, `http://${host ?? "localhost"}`), {
      method: envelope.method,
      headers: envelope.headers,
      ...(BODYLESS.has(envelope.method.toUpperCase()) ? {} : { body: envelope.body }),
    });
  } catch (error) {
    throw new PraaSError("BAD_REQUEST", `not a valid HTTP request: ${(error as Error).message}`);
  }
}

function contentTypeOf(value: unknown): string {
  if (typeof value === "string") return "text/plain; charset=utf-8";
  if (value instanceof Uint8Array || value === undefined || value === null)
    return "application/octet-stream";
  return typeof value === "object" ? "application/json" : "text/plain; charset=utf-8";
}

async function toResponseEnvelope(value: unknown, maxBodyBytes: number): Promise<Buffer> {
  if (value instanceof Response) {
    const headers: HeaderPairs = [...value.headers];
    const body = await boundedBody(value, maxBodyBytes);
    return encodeHttpResponse({ status: value.status, headers, body });
  }
  const headers: HeaderPairs = [["content-type", contentTypeOf(value)]];
  return encodeHttpResponse({ status: 200, headers, body: resultBytes(value) });
}

/**
 * A Response's body, read only up to `limit` bytes: a stream that goes on past it (or never
 * ends) is cancelled with PAYLOAD_TOO_LARGE instead of filling the worker's memory.
 */
async function boundedBody(response: Response, limit: number): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0);
  const reader = (response.body as ReadableStream<unknown>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks, size);
    if (!(value instanceof Uint8Array)) {
      void reader.cancel().catch(() => undefined);
      throw new PraaSError("FUNCTION_ERROR", "a response body stream must yield Uint8Array chunks");
    }
    size += value.length;
    if (size > limit) {
      void reader.cancel().catch(() => undefined);
      throw overLimit(`response body of more than ${limit} bytes`, limit);
    }
    chunks.push(value);
  }
}

/** The exported `fetch`, as a function of envelope bytes; its body may hold `maxBodyBytes`. */
export function httpHandler(fetchFunction: PraaSFunction, maxBodyBytes: number): PraaSFunction {
  return async (input, ctx) => {
    const request = toRequest(decodeHttpRequest(input));
    const handler = fetchFunction as unknown as (request: Request, c: typeof ctx) => unknown;
    return toResponseEnvelope(await handler(request, ctx), maxBodyBytes);
  };
}
