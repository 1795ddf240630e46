// Error mapping: PraaSError codes, validation, malformed JSON, names, limits, bugs.
import { maxHeaderSize } from "node:http";
import { connect } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ERROR_CODES, PraaSError, type ErrorCode } from "../../../src/protocol/index.js";
import { TEST_BODY_LIMIT, errorOf, startHarness, type Harness } from "./helpers.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.app.close();
});

const json = { "content-type": "application/json" };
const createUrl = "/apps/counter/processes/p1";

// The statuses clients see, written out here (not read from HTTP_STATUS, which would make the
// test agree with any table): a change of status is a change of the public API.
const EXPECTED_STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  INVALID_NAME: 400,
  PROTOCOL_ERROR: 400,
  UNAUTHORIZED: 401,
  APP_NOT_FOUND: 404,
  PROCESS_NOT_FOUND: 404,
  FUNCTION_NOT_FOUND: 404,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  INVALID_STATE: 409,
  REPLACED: 409,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  BUILD_FAILED: 422,
  TOO_MANY_REQUESTS: 429,
  FUNCTION_ERROR: 500,
  STORAGE_ERROR: 500,
  INTERNAL: 500,
  WORKER_CRASHED: 502,
  CONNECTION_CLOSED: 502,
  BACKEND_ERROR: 502,
  OUT_OF_MEMORY: 502,
  PEER_UNAVAILABLE: 503,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  STATE_FULL: 507,
};

describe("service errors", () => {
  it("every error code has an expected status here", () => {
    expect(Object.keys(EXPECTED_STATUS).sort()).toEqual([...ERROR_CODES].sort());
  });

  it.each(ERROR_CODES)("%s maps to its documented status with a JSON error body", async (code) => {
    h.service.failWith = new PraaSError(code, `failed with ${code}`);
    const res = await h.app.inject({ method: "GET", url: "/apps/counter" });
    expect(res.statusCode).toBe(EXPECTED_STATUS[code]);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ error: { code, message: `failed with ${code}` } });
  });

  it("FUNCTION_ERROR keeps the user error's name, also on the binary invoke route", async () => {
    h.service.failWith = new PraaSError("FUNCTION_ERROR", "bad input", { errorName: "TypeError" });
    const res = await h.app.inject({ method: "POST", url: "/apps/a/invoke/f", payload: "x" });
    expect(res.statusCode).toBe(500);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json()).toEqual({
      error: { code: "FUNCTION_ERROR", message: "bad input", errorName: "TypeError" },
    });
  });

  it("anything else is a 500 INTERNAL that does not leak the message or stack", async () => {
    h.service.failWith = new Error("secret detail at /etc/passwd");
    const res = await h.app.inject({ method: "GET", url: "/apps" });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
    expect(res.body).not.toContain("secret");
  });

  it("a SyntaxError thrown by the service is a bug, not a bad request", async () => {
    h.service.failWith = new SyntaxError("Unexpected token in stored record");
    const res = await h.app.inject({ method: "GET", url: "/apps" });
    expect(res.statusCode).toBe(500);
    expect(errorOf(res).code).toBe("INTERNAL");
  });
});

describe("process resources never reach the service when invalid", () => {
  it.each([
    ["negative memory", '{"memory":-1}'],
    ["zero vcpus", '{"vcpus":0}'],
    ["fractional memory", '{"memory":1.5}'],
    ["string memory", '{"memory":"256"}'],
    ["string vcpus", '{"vcpus":"2"}'],
    ["an extra field", '{"memory":256,"disk":10}'],
    ["an array", "[]"],
    ["null", "null"],
    ["a number", "42"],
  ])("%s is a 400 BAD_REQUEST", async (_what, payload) => {
    const res = await h.app.inject({ method: "PUT", url: createUrl, headers: json, payload });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).code).toBe("BAD_REQUEST");
    expect(h.service.calls).toEqual([]);
  });

  it("the validation message names the field", async () => {
    const payload = '{"memory":"256"}';
    const res = await h.app.inject({ method: "PUT", url: createUrl, headers: json, payload });
    expect(errorOf(res).message).toContain("memory");
  });

  it.each(['{"memory":', "{'memory':1}", "not json"])(
    "malformed JSON %s is a 400",
    async (payload) => {
      const res = await h.app.inject({ method: "PUT", url: createUrl, headers: json, payload });
      expect(res.statusCode).toBe(400);
      expect(errorOf(res)).toEqual({
        code: "BAD_REQUEST",
        message: "the request body is not valid JSON",
      });
      expect(h.service.calls).toEqual([]);
    },
  );

  it("prototype poisoning is refused", async () => {
    const payload = '{"__proto__":{"memory":1}}';
    const res = await h.app.inject({ method: "PUT", url: createUrl, headers: json, payload });
    expect(res.statusCode).toBe(400);
    expect(h.service.calls).toEqual([]);
  });

  it("a non-JSON content type is a 400 BAD_REQUEST", async () => {
    const headers = { "content-type": "text/plain" };
    const res = await h.app.inject({ method: "PUT", url: createUrl, headers, payload: "{}" });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).message).toContain("unsupported content type text/plain");
    expect(h.service.calls).toEqual([]);
  });
});

describe("names", () => {
  it.each([
    ["GET", "/apps/SELF"],
    ["GET", "/apps/-leading-dash"],
    ["GET", `/apps/${"a".repeat(64)}`],
    ["GET", "/apps/a%20b"],
    ["GET", "/apps/ok/processes/ANY"],
    ["DELETE", "/apps/ok/processes/a%2Fb"],
    ["POST", "/apps/ok/invoke/fn%24"],
    ["POST", "/apps/ok/invoke/fn?process=SELF"],
    ["POST", "/apps/ok/invoke/fn?process="],
    ["POST", "/apps/ok/invoke/fn?process=a&process=b"],
  ])("%s %s is a 400 INVALID_NAME", async (method, url) => {
    const res = await h.app.inject({ method: method as "GET", url });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).code).toBe("INVALID_NAME");
    expect(h.service.calls).toEqual([]);
  });
});

describe("names longer than Fastify's own parameter cap (100)", () => {
  const long = "a".repeat(101);
  it.each([
    ["process", "PUT", `/apps/ok/processes/${long}`],
    ["application", "GET", `/apps/${long}`],
    ["function", "POST", `/apps/ok/invoke/${long}`],
  ])(
    "a 101-character %s name is a 400 INVALID_NAME saying how long one may be",
    async (what, method, url) => {
      const res = await h.app.inject({
        method: method as "GET",
        url,
        headers: json,
        payload: "{}",
      });
      expect(res.statusCode).toBe(400);
      const { code, message } = errorOf(res);
      expect(code).toBe("INVALID_NAME");
      expect(message).toContain(`invalid ${what} name`);
      expect(message).toContain("(101 characters): use 1-63 letters");
      expect(h.service.calls).toEqual([]);
    },
  );

  it("a parameter longer than any request head Node accepts is still INVALID_NAME", async () => {
    const res = await h.app.inject({ method: "GET", url: `/apps/${"a".repeat(20_000)}` });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res)).toEqual({
      code: "INVALID_NAME",
      message: expect.stringContaining("use 1-63 letters") as string,
    });
  });

  it("a path that is not valid percent-encoding is a 400 BAD_REQUEST", async () => {
    const res = await h.app.inject({ method: "GET", url: "/apps/%zz" });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: { code: "BAD_REQUEST", message: "the request path is not valid percent-encoding" },
    });
  });
});

describe("over a real socket", () => {
  let base: string;
  beforeEach(async () => {
    base = await h.app.listen({ host: "127.0.0.1", port: 0 });
  });

  it("a 101-character process name is INVALID_NAME, not Fastify's 414", async () => {
    const url = `${base}/apps/ok/processes/${"a".repeat(101)}`;
    const res = await fetch(url, { method: "PUT", headers: json, body: "{}" });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toBe("INVALID_NAME");
  });

  it("a request head over Node's limit is a 413 PAYLOAD_TOO_LARGE in the API's shape", async () => {
    const res = await fetch(`${base}/apps/${"a".repeat(maxHeaderSize)}`);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: {
        code: "PAYLOAD_TOO_LARGE",
        message: `the request line and headers are larger than the limit of ${maxHeaderSize} bytes`,
      },
    });
  });

  it("bytes that are not HTTP get a 400 BAD_REQUEST in the API's shape", async () => {
    const { port } = new URL(base);
    const answer = await rawExchange(Number(port), "NOT HTTP AT ALL\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
    expect(JSON.parse(body)).toEqual({
      error: { code: "BAD_REQUEST", message: "malformed HTTP request" },
    });
  });
});

/** Writes `request` on a fresh connection and reads until the server closes it. */
async function rawExchange(port: number, request: string): Promise<string> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.end(request);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe("body limits", () => {
  it("a tarball over bodyLimitBytes is a 413 PAYLOAD_TOO_LARGE", async () => {
    const res = await h.app.inject({
      method: "PUT",
      url: "/apps/counter",
      headers: { "content-type": "application/gzip" },
      payload: Buffer.alloc(TEST_BODY_LIMIT + 1),
    });
    expect(res.statusCode).toBe(413);
    expect(errorOf(res)).toEqual({
      code: "PAYLOAD_TOO_LARGE",
      message: `request body is larger than the limit of ${TEST_BODY_LIMIT} bytes`,
    });
    expect(h.service.calls).toEqual([]);
  });

  it("a tarball of exactly bodyLimitBytes is accepted", async () => {
    const headers = { "content-type": "application/gzip" };
    const payload = Buffer.alloc(TEST_BODY_LIMIT, 7);
    const res = await h.app.inject({ method: "PUT", url: "/apps/counter", headers, payload });
    expect(res.statusCode).toBe(200);
  });

  it("an invocation payload over bodyLimitBytes is a 413", async () => {
    const payload = Buffer.alloc(TEST_BODY_LIMIT + 1);
    const res = await h.app.inject({ method: "POST", url: "/apps/a/invoke/f", payload });
    expect(res.statusCode).toBe(413);
    expect(h.service.calls).toEqual([]);
  });

  it("a JSON body over the default 64 KiB is a 413", async () => {
    const payload = JSON.stringify({ memory: 1, pad: "x".repeat(64 * 1024) });
    const res = await h.app.inject({ method: "PUT", url: createUrl, headers: json, payload });
    expect(res.statusCode).toBe(413);
    expect(errorOf(res).code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("jsonBodyLimitBytes sets the JSON cap", async () => {
    const small = await startHarness({ jsonBodyLimitBytes: 10 });
    const payload = '{"memory":256}';
    const res = await small.app.inject({ method: "PUT", url: createUrl, headers: json, payload });
    expect(res.statusCode).toBe(413);
    await small.app.close();
  });
});
