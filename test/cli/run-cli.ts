// Runs the built CLI (dist/, compiled by the vitest global setup) as a real subprocess.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { testEnv } from "../helpers/praas-up.js";

const MAIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface CliOptions {
  input?: Uint8Array | string;
  env?: Record<string, string>;
  cwd?: string;
}

/** A CLI command that has not finished by then is killed and fails the test. */
const CLI_TIMEOUT_MS = 60_000;

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  // The caller's PRAAS_* variables must not leak into the tests (the run marker stays).
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: testEnv(options.env),
    cwd: options.cwd,
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  child.stdin.end(options.input ?? "");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`praas ${args.join(" ")} did not finish in ${CLI_TIMEOUT_MS} ms`));
    }, CLI_TIMEOUT_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString("utf8"),
      });
    });
  });
}

/** Stderr of a failed command: exactly one `error [CODE]: message` line. */
export function errorLine(result: CliResult): string {
  const lines = result.stderr.split("\n").filter((line) => line !== "");
  if (lines.length !== 1) throw new Error(`expected one stderr line, got:\n${result.stderr}`);
  return lines[0] ?? "";
}
