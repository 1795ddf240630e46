/**
 * The cold-start baseline: `node tiny-server.js` until its first TCP reply, in milliseconds;
 * and the density baseline: the memory of that same bare Node server once it has answered.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { footprintOf, type Footprint } from "../proc-memory.js";

const SCRIPT = fileURLToPath(new URL("./tiny-server.js", import.meta.url));

/*
 * The server starts with an empty environment, as our runtimes and workers do (launch.ts): what
 * the bench's environment holds must not slow the baseline alone. NODE_EXTRA_CA_CERTS, for one,
 * makes every Node start parse a certificate bundle (about 80 ms and some MiB on a machine that
 * sets it), which no runtime of ours pays.
 */

/** Spawns the server, waits for its first reply, kills it; resolves to the elapsed µs. */
export function nodeColdStart(): Promise<number> {
  const start = performance.now();
  return withServer(() => (performance.now() - start) * 1000);
}

/** Spawns the server, waits for its first reply, reads its memory from /proc, kills it. */
export function idleNodeFootprint(): Promise<Footprint> {
  return withServer(footprintOf);
}

/** Servers spawned and not yet gone: killed if the bench exits first (Ctrl-C mid-sample). */
const running = new Set<ChildProcess>();
let killOnExit = false;

/** Runs `use` once a fresh server has answered its first request; always kills the server. */
async function withServer<T>(use: (pid: number) => T): Promise<T> {
  if (!killOnExit) {
    killOnExit = true;
    process.on("exit", () => running.forEach((child) => child.kill("SIGKILL")));
  }
  const child = spawn(process.execPath, [SCRIPT], {
    stdio: ["ignore", "pipe", "inherit"],
    env: {},
  });
  running.add(child);
  try {
    await firstReply(Number(await firstLine(child)));
    return use(child.pid ?? 0);
  } finally {
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    running.delete(child);
  }
}

async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, "line")) as [string];
  lines.close();
  return line;
}

function firstReply(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", noDelay: true }, () => socket.write("x"));
    socket.once("data", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}
