// GET /apps/:app/logs over a real LogHub: JSON lines, Server-Sent Events, filters, follow.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LogRecord } from "../../../src/protocol/index.js";
import { PraaS } from "../../../src/sdk/index.js";
import { startHarness, type Harness } from "./helpers.js";

let h: Harness;

beforeEach(async () => {
  h = await startHarness();
});

afterEach(async () => {
  await h.app.close();
});

function line(message: string, extra: Partial<LogRecord> = {}): LogRecord {
  const base = { time: Date.now(), level: "info", stream: "console", app: "x", process: "x" };
  return { ...base, message, ...extra } as LogRecord;
}

const lines = (body: string): LogRecord[] =>
  body
    .split("\n")
    .filter((text) => text !== "")
    .map((text) => JSON.parse(text) as LogRecord);

describe("GET /apps/:app/logs", () => {
  it("answers JSON lines, tagged with the sender's identity, filtered by process", async () => {
    h.service.hub.ingest("a", "p1", { records: [line("one", { app: "forged" })], dropped: 0 });
    h.service.hub.ingest("a", "p2", { records: [line("two")], dropped: 2 });
    const all = await h.app.inject({ method: "GET", url: "/apps/a/logs" });
    expect(all.statusCode).toBe(200);
    const records = lines(all.body);
    expect(records.map((r) => r.message)).toEqual([
      "one",
      expect.stringContaining("2 log lines") as string,
      "two",
    ]);
    expect(records[0]).toMatchObject({ app: "a", process: "p1" });
    const p2 = await h.app.inject({ method: "GET", url: "/apps/a/logs?process=p2&since=5m" });
    expect(lines(p2.body).every((r) => r.process === "p2")).toBe(true);
  });

  it("speaks Server-Sent Events when asked, and refuses a bad since", async () => {
    h.service.hub.ingest("a", "p1", { records: [line("hello")], dropped: 0 });
    const sse = await h.app.inject({
      method: "GET",
      url: "/apps/a/logs",
      headers: { accept: "text/event-stream" },
    });
    expect(sse.headers["content-type"]).toMatch(/text\/event-stream/);
    expect(sse.body).toMatch(/event: log\ndata: .*"hello"/);
    const bad = await h.app.inject({ method: "GET", url: "/apps/a/logs?since=yesterday-ish" });
    expect(bad.statusCode).toBe(400);
  });

  it("refuses a process filter that is not a process name, as invoke does", async () => {
    for (const name of ["..%2Fp1", "%C3%BC", "a".repeat(64)]) {
      const bad = await h.app.inject({ method: "GET", url: `/apps/a/logs?process=${name}` });
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ error: { code: string } }>().error.code).toBe("INVALID_NAME");
    }
  });

  it("with follow, streams a line written after the request, until the client goes", async () => {
    const url = await h.app.listen({ port: 0, host: "127.0.0.1" });
    const abort = new AbortController();
    const response = await fetch(`${url}/apps/a/logs?follow=1`, { signal: abort.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    h.service.hub.ingest("a", "p1", { records: [line("later")], dropped: 0 });
    let text = "";
    while (!text.includes("later")) {
      const chunk = (await reader.read()) as { done: boolean; value?: Uint8Array };
      if (chunk.done || chunk.value === undefined) break;
      text += Buffer.from(chunk.value).toString();
    }
    expect(lines(text).map((r) => r.message)).toContain("later");
    abort.abort();
  });

  // Bounded well below the 15 s keepalive, which alone used to send the headers of a quiet
  // application's follow.
  it(
    "with follow, answers with its headers before any line is written",
    { timeout: 5_000 },
    async () => {
      const url = await h.app.listen({ port: 0, host: "127.0.0.1" });
      const abort = new AbortController();
      const response = await fetch(`${url}/apps/quiet/logs?follow=1`, { signal: abort.signal });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/application\/x-ndjson/);
      abort.abort();
    },
  );

  it("ends the SDK's follow without an error when stopped before the response began", async () => {
    const url = await h.app.listen({ port: 0, host: "127.0.0.1" });
    const client = new PraaS(url);
    const stop = new AbortController();
    const following = client.followLogs("quiet", { signal: stop.signal });
    const first = following.next();
    stop.abort();
    expect(await first).toEqual({ done: true, value: undefined });
    await client.close();
  });
});
