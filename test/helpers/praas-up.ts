/**
 * Runs `praas up` as a real subprocess (dist/cli/main.js), waits for its listening line, and
 * runs CLI commands against it, the way a user would.
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import type { PraaS } from "../../src/sdk/index.js";

export const CLI = path.resolve("dist/cli/main.js");

export interface UpOptions {
  dataDir: string;
  redis?: string;
  s3?: { endpoint: string; bucket: string };
  apiToken?: string;
  controlPort?: number;
  extraArgs?: string[];
  /** Lead a process group of its own, as a shell's foreground job does (for Ctrl-C tests). */
  detached?: boolean;
}

const STOP_TIMEOUT_MS = 30_000;
const START_TIMEOUT_MS = 30_000;

/**
 * The test's environment without the caller's PRAAS_* settings (a developer's PRAAS_URL or
 * PRAAS_API_TOKEN must not change what a test does); the run marker stays, so the global
 * teardown can find every process the test started.
 */
export function testEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith("PRAAS_") || key === "PRAAS_TEST_RUN",
    ),
  );
  return { ...env, ...extra };
}

export interface RunningPraaS {
  url: string;
  /** The listening line `praas up --json` printed. */
  announced: Record<string, unknown>;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** SIGTERM, then wait for exit (SIGKILL after 30 s: a hung stop fails, it does not hang). */
  stop(): Promise<number | null>;
  /** SIGKILL: the control plane dies, its processes do not. */
  kill(): Promise<void>;
}

export async function startPraaS(options: UpOptions): Promise<RunningPraaS> {
  const args = [
    CLI,
    "up",
    "--port",
    "0",
    "--json",
    "--log-level",
    "warn",
    "--data-dir",
    options.dataDir,
  ];
  if (options.redis) args.push("--redis", options.redis);
  if (options.s3) args.push("--s3-endpoint", options.s3.endpoint, "--s3-bucket", options.s3.bucket);
  if (options.controlPort) args.push("--control-port", String(options.controlPort));
  args.push(...(options.extraArgs ?? []));
  const env = testEnv({ PRAAS_S3_ACCESS_KEY_ID: "S3RVER", PRAAS_S3_SECRET_ACCESS_KEY: "S3RVER" });
  if (options.apiToken) Object.assign(env, { PRAAS_API_TOKEN: options.apiToken });
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env,
    detached: options.detached ?? false,
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const stderr = forwardStderr(child);
  let announced: Record<string, unknown> & { url: string };
  try {
    announced = await listeningLine(child, stderr);
  } catch (error) {
    child.kill("SIGKILL"); // never leave a half-started control plane behind
    await exited;
    throw error;
  }
  return {
    url: announced.url,
    announced,
    child,
    exited,
    stop: () => stopChild(child, exited),
    kill: () => killChild(child, exited),
  };
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<number | null>,
): Promise<number | null> {
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

async function killChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  child.kill("SIGKILL");
  await exited;
}

/**
 * `praas up` on a port picked by `freePort` (HTTP) and the one after it (control link): another
 * test may take either between the pick and the listen, so a start that finds its port taken
 * tries again on fresh ones (at most 5 times).
 */
export async function startPraaSOnFreePort(
  options: UpOptions,
): Promise<RunningPraaS & { port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const extraArgs = [...(options.extraArgs ?? []), "--port", String(port)];
    try {
      return { ...(await startPraaS({ ...options, extraArgs })), port };
    } catch (error) {
      if (attempt === 5 || !/is in use/.test(String(error))) throw error;
    }
  }
}

/** The child's stderr goes on to the test's, and its last lines are kept for a failed start. */
function forwardStderr(child: ChildProcess): { tail: string } {
  const kept = { tail: "" };
  child.stderr!.on("data", (chunk: Buffer) => {
    process.stderr.write(chunk);
    kept.tail = (kept.tail + chunk.toString()).slice(-4096);
  });
  return kept;
}

function listeningLine(
  child: ChildProcess,
  stderr: { tail: string },
): Promise<Record<string, unknown> & { url: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`praas up did not start in ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as Record<string, unknown> & { url: string });
      } catch {
        reject(new Error(`praas up printed ${line} instead of its listening line`));
      }
    });
    // "close", not "exit": by then all of its stderr is read, with the line that says why.
    child.once("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`praas up exited with ${code}: ${stderr.tail.trim()}`));
    });
  });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `praas <args>` to completion (bounded), capturing its output. */
export function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input?: Buffer,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...testEnv(), ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`praas ${args.join(" ")} timed out`));
    }, 120_000);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** A loopback port that is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true once nothing accepts connections on host:port (bounded). */
export async function portClosed(host: string, port: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host);
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (!open) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** Polls (bounded) until process `app/name` has dialled its control plane (its link is up). */
export async function untilLinked(client: PraaS, app: string, name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await client.getProcess(app, name)).info.connections === undefined) {
    if (Date.now() > deadline) throw new Error(`${name} never re-dialled`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The error a rejected SDK call carries (code and message); fails if the call succeeded. */
export async function failure(call: Promise<unknown>): Promise<{ code?: string; message: string }> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e as { code?: string; message: string },
  );
  if (error === undefined) throw new Error("the call succeeded");
  return error;
}
