/**
 * The SDK's HTTP transport: one keep-alive undici Agent per client, request bodies and
 * responses kept as raw bytes, every failure turned into a PraaSError.
 */
import { Agent, request, type Dispatcher } from "undici";

import { PraaSError } from "../protocol/errors.js";
import { errorFromNetwork, errorFromResponse } from "./http-errors.js";

export interface HttpOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** PEM of the CA that signed the control plane's certificate (HTTPS with a private CA). */
  ca?: string | Buffer;
  /** Deadline for the response headers and for each gap in the body. */
  timeoutMs: number;
}

export interface HttpRequest {
  method: Dispatcher.HttpMethod;
  /** Path and query, already encoded, starting with `/`. */
  path: string;
  body?: Uint8Array | string;
  contentType?: string;
}

export interface HttpResponse {
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Validates and normalises the control-plane URL (no trailing slash). */
export function parseBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PraaSError("BAD_REQUEST", `invalid control-plane URL ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new PraaSError("BAD_REQUEST", `control-plane URL must be http(s), got ${url}`);
  }
  return parsed.href.replace(/\/+$/, "");
}

export class HttpTransport {
  readonly baseUrl: string;
  readonly #agent: Agent;
  readonly #options: HttpOptions;

  constructor(baseUrl: string, options: HttpOptions) {
    this.baseUrl = parseBaseUrl(baseUrl);
    this.#options = options;
    const connect = options.ca === undefined ? undefined : { ca: options.ca };
    this.#agent = new Agent({ keepAliveTimeout: 10_000, ...(connect ? { connect } : {}) });
  }

  /** Sends the request; resolves on 2xx, rejects with the PraaSError the reply stands for. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const { statusCode, headers, body } = await this.#dispatch(req);
    const bytes = await this.#readBody(body);
    if (statusCode >= 400) {
      throw errorFromResponse(statusCode, bytes.toString("utf8"), this.baseUrl);
    }
    return { headers, body: bytes };
  }

  /** Sends the request and parses the JSON reply as `T` (the shapes of protocol/api.ts). */
  async sendJson<T>(req: HttpRequest): Promise<T> {
    const { body } = await this.send(req);
    try {
      return JSON.parse(body.toString("utf8")) as T;
    } catch {
      throw new PraaSError("PROTOCOL_ERROR", `${this.baseUrl}${req.path} answered non-JSON`);
    }
  }

  /**
   * Sends the request and resolves the body as a stream once a 2xx answer began (no deadline
   * between chunks: a followed log may be quiet for long). `signal` ends it.
   */
  async stream(req: HttpRequest, signal?: AbortSignal): Promise<Dispatcher.ResponseData["body"]> {
    const { statusCode, body } = await this.#dispatch(req, { bodyTimeout: 0, signal });
    if (statusCode < 400) return body;
    const bytes = await this.#readBody(body);
    throw errorFromResponse(statusCode, bytes.toString("utf8"), this.baseUrl);
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  async #dispatch(
    req: HttpRequest,
    extra: { bodyTimeout?: number; signal?: AbortSignal | undefined } = {},
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await request(this.baseUrl + req.path, {
        method: req.method,
        headers: this.#headers(req),
        body: req.body ?? null,
        dispatcher: this.#agent,
        headersTimeout: this.#options.timeoutMs,
        bodyTimeout: extra.bodyTimeout ?? this.#options.timeoutMs,
        ...(extra.signal ? { signal: extra.signal } : {}),
      });
    } catch (error) {
      throw errorFromNetwork(error, this.baseUrl, this.#options.timeoutMs);
    }
  }

  async #readBody(body: Dispatcher.ResponseData["body"]): Promise<Buffer> {
    try {
      return Buffer.from(await body.arrayBuffer());
    } catch (error) {
      throw errorFromNetwork(error, this.baseUrl, this.#options.timeoutMs);
    }
  }

  #headers(req: HttpRequest): Record<string, string> {
    const headers: Record<string, string> = {};
    if (req.contentType !== undefined) headers["content-type"] = req.contentType;
    if (this.#options.token !== undefined) headers.authorization = `Bearer ${this.#options.token}`;
    return headers;
  }
}
