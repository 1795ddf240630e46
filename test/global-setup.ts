/**
 * Once per run: builds dist/ (integration tests spawn the compiled runtime as real
 * subprocesses), and gives the run a private temp dir and a marker so that the teardown can
 * prove nothing leaked.
 *
 * - PRAAS_TEST_RUN=<id> is inherited by the vitest workers and every process they start
 *   (control planes, cloud processes, workers, redis-server), and is visible in
 *   /proc/<pid>/environ: the teardown finds our processes by it, not by name, so concurrent runs
 *   on the same machine do not see each other's.
 * - TMPDIR points into a fresh directory, so os.tmpdir() in the tests and their children is ours
 *   alone: whatever is left in it afterwards was leaked by this run.
 *
 * - Under `--coverage`, PRAAS_TEST_V8_COVERAGE names a directory where every process the tests
 *   start writes its V8 coverage (test/subprocess-coverage.ts turns it into NODE_V8_COVERAGE in
 *   each vitest worker, so that the workers themselves, measured by vitest in-process, do not
 *   write there); scripts/coverage-report.mjs merges it with vitest's report. Cloud processes
 *   carry it in their environment too, so the teardown can find them by it.
 *
 * - Docker (test/docker-setup.ts): starts dockerd if it is installed and not running, builds
 *   the images from the fresh dist/, and the teardown fails the run for any container of this
 *   run that is left, then stops the dockerd it started.
 *
 * The teardown waits a little for processes that are still exiting, then FAILS the run naming
 * every leftover process, temp entry, container and network namespace (test/helpers/netns.ts),
 * and kills or removes them, so one leak does not cascade into the next run.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { setUpDocker, type DockerRun } from "./docker-setup.js";

import { deleteNamespace, namespacePrefix, namespacesWithPrefix } from "./helpers/netns.js";

const SETTLE_MS = 10_000;

/** Where processes started by the tests leave their coverage; read by scripts/coverage-report.mjs. */
const SUBPROCESS_COVERAGE = path.resolve("coverage-subprocess");

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
    stdio: "inherit",
  });
  // The workers' one-file bundle, which every worker subprocess runs.
  execFileSync(process.execPath, ["scripts/bundle-worker.mjs"], { stdio: "inherit" });
  // The dashboard's bundle: `praas up` from dist/ serves it at /ui.
  execFileSync(process.execPath, ["scripts/build-ui.mjs"], { stdio: "inherit" });
  const docker = await setUpDocker();
  const runId = randomBytes(6).toString("hex");
  const runTmp = mkdtempSync(path.join(tmpdir(), `praas-test-run-${runId}-`));
  process.env.PRAAS_TEST_RUN = runId;
  process.env.TMPDIR = runTmp;
  const markers = [`PRAAS_TEST_RUN=${runId}`];
  if (project.config.coverage.enabled) markers.push(`NODE_V8_COVERAGE=${coverageDir(runId)}`);
  return () => teardown(markers, runTmp, docker, runId);
}

function coverageDir(runId: string): string {
  rmSync(SUBPROCESS_COVERAGE, { recursive: true, force: true });
  const dir = path.join(SUBPROCESS_COVERAGE, runId);
  mkdirSync(dir, { recursive: true });
  process.env.PRAAS_TEST_V8_COVERAGE = dir;
  return dir;
}

async function teardown(
  markers: string[],
  runTmp: string,
  docker: DockerRun,
  runId: string,
): Promise<void> {
  const containers = await docker.leftovers(runId);
  await docker.stop();
  const processes = await leftoverProcesses(markers);
  const entries = readdirSync(runTmp);
  const namespaces = namespacesWithPrefix(namespacePrefix(runId));
  for (const proc of processes) killQuietly(proc.pid);
  for (const name of namespaces) deleteNamespace(name);
  rmSync(runTmp, { recursive: true, force: true });
  const leaks = [
    ...containers,
    ...processes.map((proc) => `process ${proc.pid}: ${proc.cmdline}`),
    ...entries.map((entry) => `temp entry ${path.join(runTmp, entry)}`),
    ...namespaces.map((name) => `network namespace ${name}`),
  ];
  if (leaks.length > 0) {
    process.exitCode = 1; // vitest only logs a teardown error; this makes the run fail
    throw new Error(`the test run leaked ${leaks.length} resource(s):\n  ${leaks.join("\n  ")}`);
  }
}

interface MarkedProcess {
  pid: number;
  cmdline: string;
}

/** Our marked processes that are still alive after a bounded wait for them to exit. */
async function leftoverProcesses(markers: string[]): Promise<MarkedProcess[]> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const found = markedProcesses(markers);
    if (found.length === 0 || Date.now() >= deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function markedProcesses(markers: string[]): MarkedProcess[] {
  const found: MarkedProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const environ = readProc(pid, "environ");
    if (environ === undefined || !isMarked(environ.split("\0"), markers)) continue;
    const cmdline = (readProc(pid, "cmdline") ?? "").split("\0").join(" ").trim();
    if (isVitestItself(cmdline)) continue;
    found.push({ pid, cmdline });
  }
  return found;
}

function isMarked(environ: string[], markers: string[]): boolean {
  return markers.some((marker) => environ.includes(marker));
}

// The pool's own workers carry the marker too; they are vitest's to stop, not leaks of a test.
function isVitestItself(cmdline: string): boolean {
  return /[/\\]vitest[/\\]/.test(cmdline);
}

/** A /proc file, or undefined when the process is gone, a zombie or not ours to read. */
function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "latin1");
  } catch {
    return undefined;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}
