import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { PraaS, PraaSError } from "../../src/sdk/index.js";
import { startLocalHttpsServer, type LocalServer } from "../sdk/local-server.js";
import { errorLine, runCli } from "./run-cli.js";

let dir: string;
let ca: string;
let server: LocalServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "praas-certs-"));
  const result = await runCli([
    "certs",
    "--out",
    dir,
    "--host",
    "praas.test",
    "--host",
    "10.1.2.3",
  ]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  ca = await readFile(join(dir, "ca.pem"), "utf8");
  const cert = await readFile(join(dir, "server.pem"), "utf8");
  const key = await readFile(join(dir, "server-key.pem"), "utf8");
  server = await startLocalHttpsServer({ cert, key }, () => ({ body: { apps: [] } }));
}, 120_000);

// Runs even when beforeAll failed half-way: whatever was made is cleaned up.
afterAll(async () => {
  try {
    await (server as LocalServer | undefined)?.close();
  } finally {
    if ((dir as string | undefined) !== undefined) await rm(dir, { recursive: true, force: true });
  }
});

describe("praas certs", { timeout: 90_000 }, () => {
  it("writes a CA and a server certificate it signed, for the local and given hosts", async () => {
    const caCert = new X509Certificate(ca);
    const serverCert = new X509Certificate(await readFile(join(dir, "server.pem")));
    expect(caCert.ca).toBe(true);
    expect(serverCert.ca).toBe(false);
    expect(serverCert.verify(caCert.publicKey)).toBe(true);
    expect(serverCert.checkHost("localhost")).toBe("localhost");
    expect(serverCert.checkHost("praas.test")).toBe("praas.test");
    for (const ip of ["127.0.0.1", "::1", "10.1.2.3"]) expect(serverCert.checkIP(ip)).toBe(ip);
    expect((await stat(join(dir, "server-key.pem"))).mode & 0o077).toBe(0);
  });

  it("lets the SDK reach an HTTPS server using the CA", async () => {
    const client = new PraaS(server.url, { ca });
    try {
      expect(await client.listApplications()).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it("fails without the CA, saying the certificate is not trusted", async () => {
    const client = new PraaS(server.url);
    const error: unknown = await client.listApplications().catch((reason: unknown) => reason);
    await client.close();
    expect(error).toBeInstanceOf(PraaSError);
    expect((error as PraaSError).code).toBe("UNAVAILABLE");
    expect((error as PraaSError).message).toContain("not trusted");
  });

  it("lets the CLI reach the server with --ca and with PRAAS_CA", async () => {
    const withFlag = await runCli(["apps", "ls", "--url", server.url, "--ca", join(dir, "ca.pem")]);
    expect(withFlag.stdout.toString()).toBe("no applications\n");
    const withEnv = await runCli(["apps", "ls", "--json"], {
      env: { PRAAS_URL: server.url, PRAAS_CA: join(dir, "ca.pem") },
    });
    expect(JSON.parse(withEnv.stdout.toString())).toEqual({ apps: [] });
  });

  it("refuses to replace existing files without --force", async () => {
    const result = await runCli(["certs", "--out", dir]);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toMatch(/^error \[ALREADY_EXISTS\]: .*ca\.pem exists/);
    expect(await readFile(join(dir, "ca.pem"), "utf8")).toBe(ca);
  });

  it("rejects an invalid host", async () => {
    const result = await runCli(["certs", "--out", join(dir, "bad"), "--host", "a b"]);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toContain('invalid host "a b"');
  });
});
