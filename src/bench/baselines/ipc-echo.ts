/**
 * The local-invocation baseline: a round trip to a forked Node child over its IPC channel,
 * with `serialization: "advanced"` so Buffers travel as bytes (no JSON).
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

export interface IpcEcho {
  echo(payload: Buffer): Promise<void>;
  stop(): Promise<void>;
}

export async function startIpcEcho(): Promise<IpcEcho> {
  const script = fileURLToPath(new URL("./ipc-echo-child.js", import.meta.url));
  const child = fork(script, [], { serialization: "advanced", stdio: "inherit" });
  await once(child, "spawn");
  return { echo: (payload) => roundTrip(child, payload), stop: () => stopChild(child) };
}

function roundTrip(child: ChildProcess, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once("message", () => resolve());
    child.send(payload, (error) => {
      if (error) reject(error);
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.disconnect();
  await exited;
}
