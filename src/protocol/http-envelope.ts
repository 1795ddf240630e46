/**
 * HTTP-shaped functions: a request to `/apps/:app/processes/:proc/http/*` travels to the
 * application's exported `fetch(request, ctx)` as an invocation of the reserved name
 * HTTP_HANDLER_CALL (never a user function's name: `@` is not allowed in names), whose payload
 * is a request envelope; the worker answers with a response envelope. An envelope is a u32 LE
 * head length, the head (fields: method, path with query, headers as JSON pairs; or status and
 * headers), then the body bytes.
 */
import { PraaSError } from "./errors.js";
import { decodeFields, encodeFields } from "./fields.js";

/** The invocation name of the HTTP handler; the worker runs the exported `fetch` for it. */
export const HTTP_HANDLER_CALL = "@http";
/** The export that handles HTTP requests. */
export const HTTP_HANDLER_EXPORT = "fetch";

/** The exported function an invocation name runs: `fetch` for the HTTP handler. */
export function exportedName(callName: string): string {
  return callName === HTTP_HANDLER_CALL ? HTTP_HANDLER_EXPORT : callName;
}

export type HeaderPairs = [string, string][];

export interface HttpRequestEnvelope {
  method: string;
  /** Path below `/http` with the query string, e.g. `/items/7?full=1`. */
  path: string;
  headers: HeaderPairs;
  body: Uint8Array;
}

export interface HttpResponseEnvelope {
  status: number;
  headers: HeaderPairs;
  body: Uint8Array;
}

function pack(fields: string[], body: Uint8Array): Buffer {
  const head = encodeFields(fields);
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32LE(head.length);
  return Buffer.concat([length, head, body]);
}

function unpack(bytes: Uint8Array, what: string): { fields: string[]; body: Uint8Array } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headLength = buf.length >= 4 ? buf.readUInt32LE(0) : -1;
  if (headLength < 0 || 4 + headLength > buf.length) throw malformed(what);
  const fields = decodeFields(buf.subarray(4, 4 + headLength));
  return { fields, body: buf.subarray(4 + headLength) };
}

function malformed(what: string): PraaSError {
  return new PraaSError("BAD_REQUEST", `malformed HTTP ${what} envelope`);
}

function parseHeaders(text: string, what: string): HeaderPairs {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed(what);
  }
  const valid =
    Array.isArray(parsed) &&
    parsed.every(
      (pair) =>
        Array.isArray(pair) &&
        pair.length === 2 &&
        typeof pair[0] === "string" &&
        typeof pair[1] === "string",
    );
  if (!valid) throw malformed(what);
  return parsed as HeaderPairs;
}

export function encodeHttpRequest(request: HttpRequestEnvelope): Buffer {
  const { method, path, headers, body } = request;
  return pack([method, path, JSON.stringify(headers)], body);
}

export function decodeHttpRequest(bytes: Uint8Array): HttpRequestEnvelope {
  const { fields, body } = unpack(bytes, "request");
  const [method, path, headers] = fields;
  if (method === undefined || path === undefined || headers === undefined)
    throw malformed("request");
  return { method, path, headers: parseHeaders(headers, "request"), body };
}

export function encodeHttpResponse(response: HttpResponseEnvelope): Buffer {
  return pack([String(response.status), JSON.stringify(response.headers)], response.body);
}

export function decodeHttpResponse(bytes: Uint8Array): HttpResponseEnvelope {
  const { fields, body } = unpack(bytes, "response");
  const [status, headers] = fields;
  const code = Number(status);
  if (!Number.isInteger(code) || code < 200 || code > 599 || headers === undefined)
    throw malformed("response");
  return { status: code, headers: parseHeaders(headers, "response"), body };
}
