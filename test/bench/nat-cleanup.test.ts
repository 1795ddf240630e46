/**
 * The NAT benchmark rows build real NATs (root only): Ctrl-C in the middle of a measurement
 * still removes every namespace (with its veths and iptables rules) and stops everything the
 * run started inside them, including the cloud processes of its control planes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { describe, expect, it } from "vitest";
import {
  canBuildNamespaces,
  deleteNamespace,
  killInside,
  namespacesWithPrefix,
} from "../helpers/netns.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { testEnv } from "../helpers/praas-up.js";

const MAIN = path.resolve("dist/bench/main.js");
const MEASURING_MS = 120_000;
const EXIT_MS = 60_000;

/** Resolves once the bench reports `line` on stderr; rejects when it ends first or in time. */
function progressLine(child: ChildProcess, line: string): Promise<void> {
  const lines = readline.createInterface({ input: child.stderr! });
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${line}" in time`)), MEASURING_MS);
    child.once("exit", () => reject(new Error(`the bench ended before "${line}"`)));
    lines.on("line", (text) => {
      if (!text.includes(line)) return;
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Processes whose command line mentions `text` (their working files live under it). */
function processesMentioning(text: string): string[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text);
      } catch {
        return false; // ended meanwhile
      }
    });
}

describe.skipIf(!canBuildNamespaces())("npm run bench -- --only nat-direct", () => {
  it("Ctrl-C while measuring leaves no namespace and no process behind", async () => {
    const temp = await makeTempDir("bench-nat");
    const args = [MAIN, "--smoke", "--only", "nat-direct", "--out", path.join(temp.dir, "out")];
    const bench = spawn(process.execPath, args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: testEnv({ TMPDIR: temp.dir }),
    });
    try {
      await progressLine(bench, "nat-direct: 1 KiB");
      expect(namespacesWithPrefix(`praas-bench-nat-${bench.pid}-`)).toHaveLength(5);
      const exited = once(bench, "exit");
      bench.kill("SIGINT");
      const timer = setTimeout(() => bench.kill("SIGKILL"), EXIT_MS);
      await exited;
      clearTimeout(timer);
      expect(bench.signalCode).toBeNull(); // it stopped itself, not the bound's SIGKILL
      expect(namespacesWithPrefix(`praas-bench-nat-${bench.pid}-`)).toEqual([]);
      expect(processesMentioning(temp.dir)).toEqual([]);
    } finally {
      if (bench.exitCode === null && bench.signalCode === null) bench.kill("SIGKILL");
      for (const name of namespacesWithPrefix(`praas-bench-nat-${bench.pid}-`)) {
        killInside(name); // only when the bench failed to: what it left is ours to remove
        deleteNamespace(name);
      }
      await temp.remove();
    }
  }, 240_000);
});
