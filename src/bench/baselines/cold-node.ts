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

/** Spawns the server, waits for its first reply, kills it; resolves to the elapsed µs. */
export async function nodeColdStart(): Promise<number> {
  const start = performance.now();
  const child = spawn(process.execPath, [SCRIPT], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await firstLine(child);
    await firstReply(Number(port));
    return (performance.now() - start) * 1000;
  } finally {
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }
}

/** Spawns the server, waits for its first reply, reads its memory from /proc, kills it. */
export async function idleNodeFootprint(): Promise<Footprint> {
  const child = spawn(process.execPath, [SCRIPT], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await firstReply(Number(await firstLine(child)));
    return footprintOf(child.pid ?? 0);
  } finally {
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
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
