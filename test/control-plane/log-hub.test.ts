import { describe, expect, it } from "vitest";
import { LogHub } from "../../src/control-plane/log-hub.js";
import type { LogRecord } from "../../src/protocol/index.js";

const record = (message: string, time = Date.now()): LogRecord => ({
  time,
  level: "info",
  stream: "stdout",
  app: "?",
  process: "?",
  message,
});

describe("LogHub", () => {
  it("keeps each application's lines in a bounded ring, and forgets an app", () => {
    const hub = new LogHub({ maxRecords: 3, maxBytes: 1024 * 1024 });
    for (let i = 0; i < 5; i++) hub.ingest("a", "p", { records: [record(`m${i}`)], dropped: 0 });
    expect(hub.recent("a").map((r) => r.message)).toEqual(["m2", "m3", "m4"]);
    expect(hub.recent("b")).toEqual([]);
    hub.forget("a");
    expect(hub.recent("a")).toEqual([]);
  });

  it("filters by time, and followers get new matching lines until they unsubscribe", () => {
    const hub = new LogHub();
    hub.ingest("a", "p", { records: [record("old", 1000)], dropped: 0 });
    expect(hub.recent("a", { sinceMs: 2000 })).toEqual([]);
    const seen: string[] = [];
    const stop = hub.follow("a", { process: "q" }, (r) => seen.push(r.message));
    hub.ingest("a", "p", { records: [record("not q")], dropped: 0 });
    hub.ingest("a", "q", { records: [record("for q")], dropped: 1 });
    stop();
    hub.ingest("a", "q", { records: [record("after")], dropped: 0 });
    expect(seen).toEqual([expect.stringContaining("1 log lines") as string, "for q"]);
  });
});
