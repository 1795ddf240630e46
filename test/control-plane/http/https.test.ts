// HTTPS: a real listen on 127.0.0.1:0 with a self-signed certificate made here by the openssl
// CLI (no X.509 generator is a dependency; `selfsigned` is not installed).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROCESS_HEADER } from "../../../src/protocol/index.js";
import { startHarness } from "./helpers.js";

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function selfSignedPair(): { cert: Buffer; key: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "praas-https-"));
  try {
    const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert].concat([
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ]),
      { stdio: "ignore" },
    );
    return { cert: readFileSync(cert), key: readFileSync(key) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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
  it.skipIf(!hasOpenssl())("serves the API over TLS (skipped: no openssl CLI)", async () => {
    const pair = selfSignedPair();
    const { app, service } = await startHarness({ https: pair });
    try {
      await app.listen({ host: "127.0.0.1", port: 0 });
      const { port } = app.server.address() as AddressInfo;
      // A real client without a content type: the body is still the payload.
      const res = await post(port, "/apps/a/invoke/f?process=p3", pair.cert, Buffer.from("abc"));
      expect(res.status).toBe(200);
      expect(res.headers[PROCESS_HEADER]).toBe("p3");
      expect(res.body.toString()).toBe("cba");
      expect(service.calls[0]?.args[2]).toEqual(Buffer.from("abc"));
    } finally {
      await app.close();
    }
  });
});
