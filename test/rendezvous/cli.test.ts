/** `praas rendezvous` as a real subprocess: it serves pairings, and refuses to run without a secret. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { issueTicket } from "../../src/protocol/index.js";
import { pairAndConnect } from "../../src/rendezvous/index.js";
import { errorLine, runCli } from "../cli/run-cli.js";
import { testEnv } from "../helpers/praas-up.js";

const MAIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const SECRET = "cli-rendezvous-secret-0123456789";

describe("praas rendezvous", () => {
  it("listens, prints its address, and pairs two parties", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "rendezvous-cli-"));
    const secretFile = path.join(dir, "secret");
    writeFileSync(secretFile, `${SECRET}\n`);
    const args = ["rendezvous", "--port", "0", "--host", "127.0.0.1", "--secret-file", secretFile];
    const child = spawn(process.execPath, [MAIN, ...args, "--json"], { env: testEnv() });
    try {
      const lines = readline.createInterface({ input: child.stdout });
      const [first] = (await Promise.race([
        new Promise((resolve) => lines.once("line", (line) => resolve([line]))),
        new Promise((_, reject) => child.once("exit", () => reject(new Error("exited")))),
      ])) as [string];
      const listening = JSON.parse(first) as { event: string; host: string; port: number };
      expect(listening).toMatchObject({ event: "listening", host: "127.0.0.1" });
      const expiresAt = Date.now() + 60_000;
      const rendezvous = { host: listening.host, port: listening.port };
      const parties = await Promise.all(
        (["listener", "dialer"] as const).map((role) =>
          pairAndConnect({
            rendezvous,
            ticket: issueTicket(SECRET, { pairingId: "cli-pairing-1", role, expiresAt }),
            punchTimeoutMs: 300,
          }),
        ),
      );
      for (const party of parties) party.socket.destroy();
      expect(parties[0]?.path).toBe(parties[1]?.path);
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      if (child.exitCode === null && child.kill("SIGTERM")) await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses to start without a secret", async () => {
    const result = await runCli(["rendezvous", "--port", "0"]);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toBe(
      "error [BAD_REQUEST]: give --secret-file or PRAAS_RENDEZVOUS_SECRET",
    );
  });
});
