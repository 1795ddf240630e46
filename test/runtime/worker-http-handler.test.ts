// The worker's side of HTTP-shaped functions, in process (workers run under Node's permission
// model, where coverage is off): the envelope becomes a web Request, a Response comes back as
// it is, a plain value as a 200, and a request the Request class refuses is a BAD_REQUEST.
import { describe, expect, it } from "vitest";
import {
  decodeHttpResponse,
  encodeHttpRequest,
  type Context,
  type PraaSFunction,
} from "../../src/protocol/index.js";
import { httpHandler } from "../../src/runtime/worker/http-handler.js";

const ctx = {} as Context;

const LIMIT = 1024 * 1024;

async function call(fetch: (request: Request) => unknown, method = "POST", body = "hi") {
  const handler = httpHandler(fetch as unknown as PraaSFunction, LIMIT);
  const request = encodeHttpRequest({
    method,
    path: "/items/7?full=1",
    headers: [
      ["host", "example.test"],
      ["x-a", "1"],
    ],
    body: Buffer.from(body),
  });
  return decodeHttpResponse((await handler(request, ctx)) as Uint8Array);
}

describe("the worker's HTTP handler", () => {
  it("hands fetch a Request and returns its Response as it is", async () => {
    const response = await call(async (request) => {
      const url = new URL(request.url);
      const text = await request.text();
      const headers = { "x-seen": `${request.method} ${url.host}${url.pathname}${url.search}` };
      return new Response(`${text}!`, { status: 202, headers });
    });
    expect(response.status).toBe(202);
    expect(new Map(response.headers).get("x-seen")).toBe("POST example.test/items/7?full=1");
    expect(Buffer.from(response.body).toString()).toBe("hi!");
  });

  it("turns plain values into 200s with a content type, and passes no body on GET", async () => {
    const json = await call(() => ({ ok: true }));
    expect(new Map(json.headers).get("content-type")).toBe("application/json");
    expect(Buffer.from(json.body).toString()).toBe('{"ok":true}');
    const text = await call(async (request) => `body: ${await request.text()}`, "GET");
    expect(new Map(text.headers).get("content-type")).toContain("text/plain");
    expect(Buffer.from(text.body).toString()).toBe("body: ");
    const bytes = await call(() => Uint8Array.from([1, 2]));
    expect(new Map(bytes.headers).get("content-type")).toBe("application/octet-stream");
    const none = await call(() => undefined);
    expect(none.status).toBe(200);
  });

  it("stops reading a streamed body once it passes the payload limit", async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(64 * 1024));
      },
    });
    await expect(call(() => new Response(endless))).rejects.toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
    });
    expect(pulled).toBeLessThan(LIMIT / (64 * 1024) + 4);
    const exact = await call(() => new Response(new Uint8Array(LIMIT)));
    expect(exact.body.length).toBe(LIMIT);
  });

  it("refuses a request the web Request cannot express", async () => {
    await expect(call(() => "x", "NOT A METHOD")).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});
