/**
 * The density experiment starts many cloud processes: Ctrl-C while they run stops every one of
 * them and their workers (their whole process groups) before the bench exits.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { groupMembers, procStat } from "../../src/runtime/proc-table.js";
import { progressLine, processesMentioning } from "../helpers/bench-child.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { testEnv } from "../helpers/praas-up.js";

const MAIN = path.resolve("dist/bench/main.js");
const ACTIVE_MS = 120_000;
const EXIT_MS = 60_000;

/** The process groups of what the bench started under `dir` (each cloud process leads one). */
function cloudProcessGroups(dir: string, benchPid: number): Set<number> {
  const groups = new Set(processesMentioning(dir).map((pid) => procStat(pid)?.pgid ?? 0));
  groups.delete(procStat(benchPid)?.pgid ?? 0); // the bench's own (the test runner's) group
  groups.delete(0);
  return groups;
}

describe.runIf(process.platform === "linux")("npm run bench -- --only density", () => {
  it("Ctrl-C with its processes active leaves none of them, nor their workers", async () => {
    const temp = await makeTempDir("bench-density");
    const args = [MAIN, "--smoke", "--only", "density", "--out", path.join(temp.dir, "out")];
    const bench = spawn(process.execPath, args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: testEnv({ TMPDIR: temp.dir }),
    });
    try {
      await progressLine(bench, "density: 2 active; checking each answers", ACTIVE_MS);
      const groups = cloudProcessGroups(temp.dir, bench.pid ?? 0);
      expect(groupMembers(groups).length).toBeGreaterThanOrEqual(4); // 2 processes, 2 workers
      const exited = once(bench, "exit");
      bench.kill("SIGINT");
      const timer = setTimeout(() => bench.kill("SIGKILL"), EXIT_MS);
      await exited;
      clearTimeout(timer);
      expect(bench.signalCode).toBeNull(); // it stopped itself, not the bound's SIGKILL
      expect(bench.exitCode).toBe(130);
      expect(groupMembers(groups)).toEqual([]);
      expect(processesMentioning(temp.dir).filter((pid) => pid !== bench.pid)).toEqual([]);
    } finally {
      if (bench.exitCode === null && bench.signalCode === null) bench.kill("SIGKILL");
      await temp.remove();
    }
  }, 240_000);
});
