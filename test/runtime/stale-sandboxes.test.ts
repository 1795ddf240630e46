// Sandboxes of processes that were killed (so could not remove their own) are removed by the
// next process that prepares a sandbox in the same place; live ones and other files are kept.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeStaleSandboxes, sandboxName } from "../../src/runtime/stale-sandboxes.js";
import { WorkerSandbox } from "../../src/runtime/worker-sandbox.js";

const root = mkdtempSync(path.join(tmpdir(), "stale-sandboxes-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid ?? 0;
}

function makeDir(name: string): string {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, "tmp"), { recursive: true });
  writeFileSync(path.join(dir, "tmp", "left-behind"), "scratch a function wrote");
  return dir;
}

describe("stale sandboxes", () => {
  it("removes the sandboxes of dead processes only", async () => {
    const dead = makeDir(sandboxName("app-p1", await deadPid(), "0123456789ab"));
    const live = makeDir(sandboxName("app-p2", process.pid, "0123456789ab"));
    const other = makeDir("praas-test-run-Ab12Cd");
    // Named before sandboxes carried their pid: a label ending in digits is no pid.
    const older = makeDir(`praas-app-p-${await deadPid()}-0123456789ab`);
    const removed = await removeStaleSandboxes(root);
    expect(removed).toEqual([path.basename(dead)]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(other)).toBe(true);
    expect(existsSync(older)).toBe(true);
    rmSync(live, { recursive: true });
    rmSync(older, { recursive: true });
  });

  it("a process preparing its sandbox removes what a killed one left", async () => {
    const dead = makeDir(sandboxName("pool", await deadPid(), "ba9876543210"));
    const sandbox = new WorkerSandbox({
      label: "app-p3",
      permissions: { network: true, childProcess: false, workerThreads: false },
      root,
      log: () => undefined,
    });
    await sandbox.prepare();
    try {
      const deadline = Date.now() + 5000;
      while (existsSync(dead) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(sandbox.dir)).toBe(true);
    } finally {
      await sandbox.remove();
    }
  });
});
