/**
 * One soak run: start the deployment, deploy the soak app, create the processes, run load,
 * faults and fuzzing together for the duration, verify, shut down, look for leftovers, and
 * judge the invariants. Everything started is stopped, also on failure.
 */
import path from "node:path";
import { APP, SoakClient } from "./client.js";
import { Deployment } from "./deployment.js";
import { emptyCounts, runFaults, type FaultCounts } from "./faults.js";
import { emptyFuzzStats, runFuzz, type FuzzStats, type FuzzTarget } from "./fuzz.js";
import { judge } from "./invariants.js";
import type { SoakResult } from "./result.js";
import { Ledger } from "./ledger.js";
import { runLoad, sleep, type Stopper } from "./load.js";
import { Monitor } from "./monitor.js";
import { PACKAGE_ROOT, type SoakOptions } from "./options.js";
import { createProcesses, type DurabilityUsed } from "./processes.js";
import { runtimesOf } from "./procs.js";
import { verify } from "./verify.js";
import { replaceUnrecoverable } from "./processes.js";

/** A request unanswered this long after the deployment's own timeout counts as hung. */
const HUNG_SLACK_MS = 30_000;
const LEAK_SETTLE_MS = 15_000;

export type Progress = (line: string) => void;

export async function runSoak(options: SoakOptions, progress: Progress): Promise<SoakResult> {
  const started = Date.now();
  const crashes: string[] = [];
  const logs = new Map<string, number>();
  const deployment = await Deployment.start({
    env: options.childEnv,
    invocationTimeoutMs: options.invocationTimeoutMs,
    onLog: (line) => logLine(line, logs, progress),
    onCrash: (detail) => crashes.push(detail),
  });
  progress(`praas up at ${deployment.url}, data dir ${deployment.dataDir}`);
  const ledger = new Ledger();
  const client = new SoakClient(
    deployment.url,
    ledger,
    options.invocationTimeoutMs + HUNG_SLACK_MS,
  );
  const monitor = new Monitor(deployment, client.praas);
  let body: Exercised | undefined;
  try {
    body = await exercise(options, deployment, client, ledger, progress);
  } finally {
    await monitor.stop();
    await client.close();
    progress("stopping praas up (SIGTERM) and Redis");
    await deployment.stop();
  }
  const leftover = await leftovers(monitor, deployment);
  const result = {
    date: new Date(started).toISOString().replace(/[:.]/g, "-"),
    ...body,
    elapsedMs: Date.now() - started,
    peakRss: {
      controlPlaneBytes: monitor.controlPlanePeakBytes,
      processBytes: Object.fromEntries(monitor.processPeakBytes),
    },
    leaks: { tracked: monitor.registry.size, leftover },
    controlPlaneCrashes: crashes,
    logs: Object.fromEntries(logs),
  };
  const invariants = judge(result, options);
  return {
    ...result,
    invariants,
    passed: invariants.every((check) => check.ok),
  };
}

/** What the run did and saw, before the shutdown. */
type Exercised = Pick<
  SoakResult,
  | "options"
  | "durability"
  | "faults"
  | "outcomes"
  | "longestWait"
  | "firstErrors"
  | "waitedOutActivation"
  | "replaced"
  | "faultLog"
  | "verification"
  | "fuzz"
>;

interface Parts {
  options: SoakOptions;
  deployment: Deployment;
  client: SoakClient;
  ledger: Ledger;
  names: string[];
}

async function exercise(
  options: SoakOptions,
  deployment: Deployment,
  client: SoakClient,
  ledger: Ledger,
  progress: Progress,
): Promise<Exercised> {
  await client.praas.deploy(APP, path.join(PACKAGE_ROOT, "soak", "app"));
  const names = Array.from({ length: options.processes }, (_, index) => `p${index}`);
  const durability = await createProcesses(client, names, options.durability);
  const seconds = options.durationMs / 1000;
  progress(`created ${names.join(", ")} (durability ${durability.used}); running ${seconds} s`);
  const parts = { options, deployment, client, ledger, names };
  const { faults, fuzz } = await drive(parts, durability, progress);
  const settleMs = options.short ? 15_000 : 60_000;
  const verification = await verify(client, ledger, durability.used, settleMs);
  return {
    options: { durationMs: options.durationMs, short: options.short, processes: options.processes },
    durability,
    faults,
    outcomes: ledger.outcomes(),
    longestWait: ledger.longestWait,
    firstErrors: ledger.firstMessages(),
    waitedOutActivation: ledger.waitedOutActivation,
    replaced: ledger.retired.length,
    faultLog: ledger.faultLog,
    verification,
    fuzz,
  };
}

/** Load, fuzzing and faults together until the deadline (and every fault kind injected). */
async function drive(
  parts: Parts,
  durability: DurabilityUsed,
  progress: Progress,
): Promise<{ faults: FaultCounts; fuzz: FuzzStats }> {
  const { options, client, ledger, names } = parts;
  const stop: Stopper = { stopped: false };
  const faults = emptyCounts();
  const fuzz = emptyFuzzStats();
  const startedAt = Date.now();
  const deadline = startedAt + options.durationMs;
  const pacing = { paceMs: options.short ? 20 : 30, swapEveryMs: options.short ? 1_500 : 5_000 };
  const load = runLoad(client, ledger, { names, ...pacing }, stop);
  const replacing = replaceUnrecoverable(client, ledger, names, durability, stop);
  const fuzzOptions = { targetFrames: options.fuzzFrames, startedAt, parallel: 3 };
  const targets = fuzzTargets(client, parts.deployment, names);
  const fuzzing = runFuzz(targets, fuzz, { ...fuzzOptions, durationMs: options.durationMs }, stop);
  const faultOptions = { everyMs: options.faultEveryMs, deadline };
  await runFaults({ ...parts }, faults, faultOptions, stop);
  await untilDeadlineAndFuzzed(deadline, fuzz, options.fuzzFrames);
  stop.stopped = true;
  await Promise.all([load, fuzzing, replacing]);
  progress(`load stopped after ${Date.now() - startedAt} ms; verifying`);
  return { faults, fuzz };
}

/** The load runs to the deadline, and past it while the fuzzer still owes frames (bounded). */
async function untilDeadlineAndFuzzed(
  deadline: number,
  fuzz: FuzzStats,
  target: number,
): Promise<void> {
  while (Date.now() < deadline) await sleep(100);
  const bound = Date.now() + 30_000;
  while (fuzz.frames < target && Date.now() < bound) await sleep(100);
}

function fuzzTargets(
  client: SoakClient,
  deployment: Deployment,
  names: string[],
): () => FuzzTarget[] {
  const [host, port] = deployment.controlAddress.split(":");
  const control: FuzzTarget = {
    link: "control-link",
    host: host ?? "127.0.0.1",
    port: Number(port),
  };
  const dataPlanes = new Map<string, FuzzTarget>();
  const refresh = async () => {
    for (const name of names) {
      const info = await client.praas.getProcess(APP, name).then(
        (p) => p.info.connection,
        () => undefined,
      );
      if (info === undefined) dataPlanes.delete(name);
      else
        dataPlanes.set(name, {
          link: "data-plane",
          host: info.host,
          port: info.port,
          token: info.token,
        });
    }
  };
  let refreshedAt = 0;
  return () => {
    if (Date.now() - refreshedAt > 1_000) {
      refreshedAt = Date.now();
      void refresh().catch(() => undefined);
    }
    return [control, ...dataPlanes.values()];
  };
}

/** Kills what leaked (reported already), so one failed run does not burden the next. */
function killLeftovers(lines: string[]): string[] {
  for (const line of lines) {
    try {
      process.kill(Number(line.split(" ")[0]), "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}

/** Counts log lines by level and message; errors and unparsable lines go to the progress too. */
function logLine(line: string, logs: Map<string, number>, progress: Progress): void {
  let entry: { level?: number; msg?: string; name?: string };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    // e.g. V8's report of a worker that ran out of heap, line by line
    logs.set("raw output lines", (logs.get("raw output lines") ?? 0) + 1);
    return;
  }
  const level = entry.level ?? 60;
  // Names of processes and of the fuzzer's made-up processes would make every line unique.
  const who = (entry.name ?? "")
    .replace(/^process:.*/, "process")
    .replace(/^fuzz\d+$/, "control-plane");
  const key = `${level >= 50 ? "error" : "warn"} ${who}: ${entry.msg ?? ""}`.slice(0, 200);
  logs.set(key, (logs.get(key) ?? 0) + 1);
  if (level >= 50) progress(`praas up: ${line}`);
}

/** Processes of the deployment still alive after shutdown (after a bounded wait for exits). */
async function leftovers(monitor: Monitor, deployment: Deployment): Promise<string[]> {
  const deadline = Date.now() + LEAK_SETTLE_MS;
  for (;;) {
    const alive = monitor.registry.alive().map((proc) => `${proc.pid} ${proc.what}`);
    const unseen = runtimesOf(APP, deployment.controlAddress, deployment.dataDir).map(
      (proc) => `${proc.pid} ${proc.name} (never sampled)`,
    );
    const all = [
      ...alive,
      ...unseen.filter((line) => !alive.some((a) => a.startsWith(line.split(" ")[0]!))),
    ];
    if (all.length === 0) return all;
    if (Date.now() >= deadline) return killLeftovers(all);
    await sleep(200);
  }
}
