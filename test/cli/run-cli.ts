// Runs the built CLI (dist/, compiled by the vitest global setup) as a real subprocess.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

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

// The caller's PRAAS_* variables must not leak into the tests.
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("PRAAS_")),
  );
  return { ...env, ...extra };
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: cleanEnv(options.env),
    cwd: options.cwd,
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  child.stdin.end(options.input ?? "");
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        code,
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString("utf8"),
      }),
    );
  });
}

/** Stderr of a failed command: exactly one `error [CODE]: message` line. */
export function errorLine(result: CliResult): string {
  const lines = result.stderr.split("\n").filter((line) => line !== "");
  if (lines.length !== 1) throw new Error(`expected one stderr line, got:\n${result.stderr}`);
  return lines[0] ?? "";
}
