/**
 * The NAT benchmark rows build real NATs (root only): Ctrl-C in the middle of a measurement
 * still removes every namespace (with its veths and iptables rules) and stops everything the
 * run started inside them, including the cloud processes of its control planes.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  canBuildNamespaces,
  deleteNamespace,
  killInside,
  namespacesWithPrefix,
} from "../helpers/netns.js";
import { progressLine, processesMentioning } from "../helpers/bench-child.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { testEnv } from "../helpers/praas-up.js";

const MAIN = path.resolve("dist/bench/main.js");
const MEASURING_MS = 120_000;
const EXIT_MS = 60_000;

describe.skipIf(!canBuildNamespaces())("npm run bench -- --only nat-direct", () => {
  it("Ctrl-C while measuring leaves no namespace and no process behind", async () => {
    const temp = await makeTempDir("bench-nat");
    const args = [MAIN, "--smoke", "--only", "nat-direct", "--out", path.join(temp.dir, "out")];
    const bench = spawn(process.execPath, args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: testEnv({ TMPDIR: temp.dir }),
    });
    try {
      await progressLine(bench, "nat-direct: 1 KiB", MEASURING_MS);
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
