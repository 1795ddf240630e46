import net from "node:net";
import { describe, expect, it } from "vitest";

import { makeTempDir } from "../helpers/process-harness.js";

import { closedPort } from "../sdk/local-server.js";
import { errorLine, runCli } from "./run-cli.js";

const ERROR_LINE = /^error \[[A-Z_]+\]: \S/;

describe.concurrent("praas failures: one error line, exit code 1", { timeout: 90_000 }, () => {
  it("reports an unreachable --url", async () => {
    const port = await closedPort();
    const result = await runCli(["apps", "ls", "--url", `http://127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(result.stdout.length).toBe(0);
    expect(errorLine(result)).toMatch(
      new RegExp(
        `^error \\[UNAVAILABLE\\]: cannot reach control plane at http://127\\.0\\.0\\.1:${port}: `,
      ),
    );
  });

  it("takes --url, --json and the other client options before the command too", async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const result = await runCli(["--json", "--url", url, "process", "ls", "counter"]);
    expect(result.code).toBe(1);
    const record = JSON.parse(result.stderr.toString()) as { error: { message: string } };
    expect(record.error.message).toContain(`at ${url}`);
    const equals = await runCli([`--url=${url}`, "--token", "t", "apps", "ls"]);
    expect(errorLine(equals)).toContain(`at ${url}`);
  });

  it("takes the URL from PRAAS_URL when --url is absent", async () => {
    const port = await closedPort();
    const env = { PRAAS_URL: `http://127.0.0.1:${port}` };
    const result = await runCli(["process", "ls", "counter"], { env });
    expect(result.code).toBe(1);
    expect(errorLine(result)).toContain(`at http://127.0.0.1:${port}`);
  });

  it.each([
    [["process", "create", "a", "p", "--vcpus", "abc"], "--vcpus"],
    [["process", "create", "a", "p", "--memory", "1.5"], "positive integer"],
    [["process", "create", "a", "p", "--memory", "-3"], "--memory"],
    [["process", "get", "a"], "missing required argument"],
    [["proces", "ls", "a"], "Did you mean process?"],
    [["apps", "ls", "--bogus"], "unknown option"],
    [["apps", "ls", "--url", "nope"], "invalid control-plane URL"],
  ])("rejects bad input: %j", async (args, expected) => {
    const result = await runCli(args);
    expect(result.code).toBe(1);
    const line = errorLine(result);
    expect(line).toMatch(ERROR_LINE);
    expect(line).toContain(expected);
  });

  it("rejects a missing directory, payload file or CA file", async () => {
    const results = await Promise.all([
      runCli(["deploy", "/nonexistent/app-dir"]),
      runCli(["invoke", "a", "f", "--data", "@/nonexistent/payload"]),
      runCli(["apps", "ls", "--ca", "/nonexistent/ca.pem"]),
    ]);
    expect(results.map((result) => result.code)).toEqual([1, 1, 1]);
    expect(results.map(errorLine)).toEqual([
      "error [BAD_REQUEST]: /nonexistent/app-dir is not a directory",
      "error [BAD_REQUEST]: cannot read payload file /nonexistent/payload: ENOENT",
      "error [BAD_REQUEST]: cannot read CA certificate /nonexistent/ca.pem: ENOENT",
    ]);
  });

  it("rejects an invalid application name before any request", async () => {
    const result = await runCli(["apps", "get", "../x", "--url", "http://127.0.0.1:1"]);
    expect(result.code).toBe(1);
    expect(errorLine(result)).toMatch(/^error \[INVALID_NAME\]: invalid application name/);
  });

  it("names the taken port when praas up cannot listen", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    const temp = await makeTempDir("cli-port-taken");
    try {
      // Each its own data directory: one control plane per directory (it is locked).
      const up = (dir: string) => ["up", "--data-dir", `${temp.dir}/${dir}`, "--warm-pool", "0"];
      const [http, control] = await Promise.all([
        runCli([...up("http"), "--port", String(port), "--control-port", "0"]),
        runCli([...up("control"), "--port", "0", "--control-port", String(port)]),
      ]);
      expect([http.code, control.code]).toEqual([1, 1]);
      expect(errorLine(http)).toBe(
        `error [UNAVAILABLE]: the HTTP API's port 127.0.0.1:${port} is in use; choose another with --port (port)`,
      );
      expect(errorLine(control)).toBe(
        `error [UNAVAILABLE]: the control link's port 127.0.0.1:${port} is in use; choose another with --control-port (controlPort)`,
      );
    } finally {
      taken.close();
      await temp.remove();
    }
  });
});
