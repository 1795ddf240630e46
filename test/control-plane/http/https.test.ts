// HTTPS: a real listen on 127.0.0.1:0 with a certificate from `praas certs`' generator.
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { generateDevCertificates } from "../../../src/cli/certificates.js";
import { PROCESS_HEADER } from "../../../src/protocol/index.js";
import { startHarness } from "./helpers.js";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function post(port: number, path: string, ca: Buffer, body: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "POST", ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("https", () => {
  it("serves the API over TLS", async () => {
    const certs = await generateDevCertificates();
    const { app, service } = await startHarness({ https: { cert: certs.cert, key: certs.key } });
    try {
      await app.listen({ host: "127.0.0.1", port: 0 });
      const { port } = app.server.address() as AddressInfo;
      // A real client without a content type: the body is still the payload.
      const res = await post(
        port,
        "/apps/a/invoke/f?process=p3",
        Buffer.from(certs.ca),
        Buffer.from("abc"),
      );
      expect(res.status).toBe(200);
      expect(res.headers[PROCESS_HEADER]).toBe("p3");
      expect(res.body.toString()).toBe("cba");
      expect(service.calls[0]?.args[2]).toEqual(Buffer.from("abc"));
    } finally {
      await app.close();
    }
  });
});
