// A cloud process started without a control link (by a test, a script) must not outlive the
// process that started it: nobody else would ever stop it.
import { spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { expect, it } from "vitest";
import { bundleFixture, makeTempDir } from "../helpers/process-harness.js";

const RUNTIME = path.resolve("dist/runtime/main.js");

// The parent: starts the runtime, prints its pid once it is ready, then waits to be killed.
const PARENT = `
const { spawn } = require("node:child_process");
const [runtime, ...args] = process.argv.slice(1);
const child = spawn(process.execPath, [runtime, ...args], { stdio: ["ignore", "pipe", "inherit"] });
child.stdout.once("data", () => console.log(child.pid));
setInterval(() => {}, 1000);
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return !alive(pid);
}

it("stops a process started without --control once its parent dies", async () => {
  const temp = await makeTempDir("parent-death");
  let runtimePid: number | undefined;
  const parent = spawn(
    process.execPath,
    [
      "-e",
      PARENT,
      RUNTIME,
      "--app",
      "suite",
      "--name",
      "orphan",
      "--log-level",
      "error",
      "--bundle",
      await bundleFixture("runtime-suite", temp.dir),
      "--blob-dir",
      temp.dir,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: parent.stdout }).once("line", resolve);
      parent.once("exit", () => reject(new Error("parent exited before the runtime was ready")));
    });
    runtimePid = Number(line);
    expect(alive(runtimePid)).toBe(true);
    parent.kill("SIGKILL");
    expect(await gone(runtimePid, 20_000)).toBe(true);
  } finally {
    parent.kill("SIGKILL");
    if (runtimePid !== undefined && alive(runtimePid)) process.kill(runtimePid, "SIGKILL");
    await temp.remove();
  }
});
