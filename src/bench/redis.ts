/**
 * Starts a throwaway redis-server (for the benchmarks' baselines and the tests): loopback only,
 * on a free port, no persistence unless asked for (an append-only file in a given directory).
 * Resolves once it answers PING; `stop()` kills it and waits for it to exit.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";
import net from "node:net";
import path from "node:path";
import { stopChild } from "./stop-child.js";

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const PORT_ATTEMPTS = 3;

/** The redis-server executable on PATH, or undefined. */
export function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export interface RedisStartOptions {
  /** A given port (e.g. to restart a server where its clients expect it); default: a free one. */
  port?: number;
  /** Persist to an append-only file in this directory, so a restart keeps the data. */
  dir?: string;
}

export async function startRedis(options: RedisStartOptions = {}): Promise<RedisServer> {
  const executable = findRedisServer();
  if (executable === undefined) {
    throw new Error("redis-server is not on PATH: install it (apt-get install -y redis-server)");
  }
  if (options.port !== undefined) return startOnPort(executable, options.port, options.dir);
  // A free port can be taken between probing and binding; try a few before giving up.
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    try {
      return await startOnPort(executable, await freePort(), options.dir);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function startOnPort(executable: string, port: number, dir?: string): Promise<RedisServer> {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", ""];
  if (dir === undefined) args.push("--appendonly", "no");
  else args.push("--dir", dir, "--appendonly", "yes", "--appendfsync", "always");
  const child = spawn(executable, args, { stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  try {
    await waitUntilReady(child, port);
  } catch (error) {
    await stopChild(child, STOP_TIMEOUT_MS);
    throw new Error(
      `redis-server on port ${port} did not start: ${String(error)}\n${output.join("")}`,
    );
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop: () => stopChild(child, STOP_TIMEOUT_MS) };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

/** Polls PING until PONG, failing fast if the server exits and after a bound. */
async function waitUntilReady(child: ChildProcess, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    }
    if (await answersPing(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no PONG within ${READY_TIMEOUT_MS} ms`);
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG"));
    });
    socket.on("error", () => finish(false));
  });
}
