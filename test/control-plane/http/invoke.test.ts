// POST /apps/:app/invoke/:fn: raw bytes in, raw bytes out, whatever the content type.
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROCESS_HEADER } from "../../../src/protocol/index.js";
import { startHarness, type Harness } from "./helpers.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.app.close();
});

/** The FakeService replies with the payload reversed. */
const reversed = (bytes: Buffer): Buffer => Buffer.from(bytes).reverse();

describe("invoke", () => {
  it("passes 1 MiB of random bytes through unchanged and names the process", async () => {
    const payload = randomBytes(1024 * 1024);
    const res = await h.app.inject({
      method: "POST",
      url: "/apps/counter/invoke/add?process=p7",
      headers: { "content-type": "application/octet-stream" },
      payload,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/octet-stream");
    expect(res.headers[PROCESS_HEADER]).toBe("p7");
    expect(res.rawPayload.equals(reversed(payload))).toBe(true);
    const call = h.service.calls[0];
    expect(call?.method).toBe("invoke");
    expect(call?.args.slice(0, 2)).toEqual(["counter", "add"]);
    expect(Buffer.compare(call?.args[2] as Buffer, payload)).toBe(0);
    expect(call?.args[3]).toBe("p7");
  });

  it.each(["application/json", "text/plain", "application/x-whatever", "multipart/form-data"])(
    "a %s body is bytes, not parsed",
    async (type) => {
      const payload = Buffer.from('{"not": "parsed"');
      const headers = { "content-type": type };
      const res = await h.app.inject({ method: "POST", url: "/apps/a/invoke/f", headers, payload });
      expect(res.statusCode).toBe(200);
      expect(h.service.calls[0]?.args[2]).toEqual(payload);
    },
  );

  it.each(["", "garbage", "text/"])("a body with content type %j is bytes", async (type) => {
    const payload = Buffer.from([0, 1, 2, 3]);
    const headers = { "content-type": type };
    const res = await h.app.inject({ method: "POST", url: "/apps/a/invoke/f", payload, headers });
    expect(res.statusCode).toBe(200);
    expect(h.service.calls[0]?.args[2]).toEqual(payload);
  });

  it("an absent body is an empty payload; without ?process the service picks", async () => {
    const res = await h.app.inject({ method: "POST", url: "/apps/a/invoke/f" });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.length).toBe(0);
    expect(res.headers[PROCESS_HEADER]).toBe("p1");
    expect(h.service.calls).toEqual([
      { method: "invoke", args: ["a", "f", Buffer.alloc(0), undefined] },
    ]);
  });
});
