/**
 * 10. Durable puts: `ctx.state.put` in a `log` process (resolves once in the write-ahead log on
 * disk) versus Redis `SET` with `appendonly yes` + `appendfsync always` on the same disk, at 1
 * and 64 concurrent writers. 11. Recovery: resume after SIGKILL of a `log` process holding 10k
 * keys / 100 MiB (snapshot-less: the whole log is replayed) versus reading its bytes from disk.
 */
import { mkdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { ProcessConnection } from "../../sdk/index.js";
import type { Environment } from "../environment.js";
import {
  makeRow,
  metricOf,
  round,
  type Experiment,
  type Row,
  type RunContext,
} from "../experiment.js";
import { sizeLabel, warmupFor } from "../plan.js";
import { startRedis } from "../redis.js";
import { summarize } from "../stats.js";

const PUT_BYTES = 100;
/** Ours and the baseline alternate in this many chunks (as every experiment: bench/README.md). */
const CHUNKS = 5;

interface Puts {
  /** Per-put latencies, µs. */
  latencies: number[];
  puts: number;
  wallUs: number;
}

async function timedPuts(
  connection: ProcessConnection,
  input: { writers: number; rounds: number; warmup: number; url?: string },
): Promise<Puts> {
  const bytes = Buffer.from(await connection.invoke("durablePuts", { size: PUT_BYTES, ...input }));
  const samples = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
  const latencies = [...samples.subarray(0, samples.length - 1)];
  return { latencies, puts: latencies.length, wallUs: samples[samples.length - 1] ?? 0 };
}

function merge(parts: Puts[]): Puts {
  return {
    latencies: parts.flatMap((p) => p.latencies),
    puts: parts.reduce((sum, p) => sum + p.puts, 0),
    wallUs: parts.reduce((sum, p) => sum + p.wallUs, 0),
  };
}

const putsPerSecond = (p: Puts): number => round((p.puts / p.wallUs) * 1e6, 0);

function putRow(writers: number, ours: Puts, baseline: Puts): Row {
  const oursRate = putsPerSecond(ours);
  const redisRate = putsPerSecond(baseline);
  const label = `${writers} writer${writers === 1 ? "" : "s"}, ${sizeLabel(PUT_BYTES)}`;
  return makeRow(
    { writers },
    label,
    metricOf(summarize(Float64Array.from(ours.latencies))),
    metricOf(summarize(Float64Array.from(baseline.latencies))),
    {
      "ours puts/s": oursRate,
      "redis puts/s": redisRate,
      "throughput ratio": round(oursRate / redisRate, 3),
    },
  );
}

async function measureWriters(
  context: RunContext,
  connection: ProcessConnection,
  url: string,
  writers: number,
): Promise<Row> {
  context.progress(`${writers} writer(s)`);
  const perWriter = context.plan.durablePutsPerWriter(writers);
  const rounds = Math.max(1, Math.ceil(perWriter / CHUNKS));
  const warmup = warmupFor(perWriter);
  await timedPuts(connection, { writers, rounds: 0, warmup });
  await timedPuts(connection, { writers, rounds: 0, warmup, url });
  const ours: Puts[] = [];
  const baseline: Puts[] = [];
  for (let i = 0; i < CHUNKS; i++) {
    ours.push(await timedPuts(connection, { writers, rounds, warmup: 0 }));
    baseline.push(await timedPuts(connection, { writers, rounds, warmup: 0, url }));
  }
  return putRow(writers, merge(ours), merge(baseline));
}

/** A redis-server persisting every write (fsync per write batch) in the control plane's data dir. */
async function aofRedis(env: Environment): Promise<string> {
  const dir = path.join(env.workDir, "data", "redis-aof");
  await mkdir(dir, { recursive: true });
  const redis = await startRedis({ dir });
  env.defer(() => redis.stop());
  return redis.url;
}

/** Issue 8's goal: put p50 ≤ 1× Redis AOF, and with many writers also throughput ≥ 1×. */
function durableGoal(row: Row): { target: string; met: boolean } {
  const p50Met = row.ratio <= 1;
  if (row.params.writers === 1) return { target: "p50 ≤ 1×", met: p50Met };
  const throughput = row.extra?.["throughput ratio"] ?? 0;
  return { target: "p50 ≤ 1×, throughput ≥ 1×", met: p50Met && throughput >= 1 };
}

export const durablePuts: Experiment = {
  name: "durable-puts",
  title: "Durable state puts (100 B), 1 and 64 concurrent writers",
  ours: '`await ctx.state.put(key, v)` in a `durability: "log"` process (on disk when it resolves), timed in the function',
  baseline:
    "the same function doing Redis `SET` against a redis-server with `appendonly yes` + `appendfsync always`, its AOF in the same data directory",
  unit: "µs",
  higherIsBetter: false,
  notes: [
    "Latency is per put; N writers are N concurrent loops in one invocation (one worker).",
    "puts/s = all puts ÷ wall time of the timed part; throughput ratio = ours ÷ Redis (higher is better).",
    "Both sides group-commit: the WAL syncs once for the puts that arrived during the previous sync, Redis once per event-loop turn.",
  ],
  goal: durableGoal,
  async run(context: RunContext) {
    const { env } = context;
    const url = await aofRedis(env);
    const proc = await env.createProcess("suite", "durable-puts", { durability: "log" });
    const connection = await proc.connect();
    env.defer(() => connection.close());
    const rows: Row[] = [];
    for (const writers of context.plan.durableWriters)
      rows.push(await measureWriters(context, connection, url, writers));
    return rows;
  },
};

/** Polls the record until `failed` (bounded): the control plane notices the death itself. */
async function untilFailed(env: Environment, app: string, name: string): Promise<void> {
  const { client } = await env.cluster();
  const deadline = Date.now() + 30_000;
  while ((await client.getProcess(app, name)).status !== "failed") {
    if (Date.now() > deadline) throw new Error(`${name} was not marked failed`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** SIGKILLs the process, then times its resume (start + replay of the whole log). */
async function killAndResume(env: Environment, app: string, name: string): Promise<number> {
  const { client } = await env.cluster();
  const connection = await (await client.getProcess(app, name)).connect();
  const pid = Number(Buffer.from(await connection.invoke("parentPid")).toString());
  await connection.close();
  process.kill(pid, "SIGKILL");
  await untilFailed(env, app, name);
  const start = performance.now();
  await client.resume(app, name);
  return (performance.now() - start) * 1000;
}

async function readUs(file: string): Promise<number> {
  const start = performance.now();
  await readFile(file);
  return (performance.now() - start) * 1000;
}

async function checkKeys(env: Environment, app: string, name: string, keys: number): Promise<void> {
  const { client } = await env.cluster();
  const found = Buffer.from(await client.invoke(app, "countKeys", "", { process: name }));
  if (Number(found.toString()) !== keys) throw new Error(`recovered ${found.toString()} keys`);
}

export const recovery: Experiment = {
  name: "recovery",
  title: "Recovery after SIGKILL (10k keys, 100 MiB of state)",
  ours: '`resume` of a SIGKILLed `durability: "log"` process: a new process replays the whole write-ahead log',
  baseline: "reading the log's bytes from the same disk (`readFile`)",
  unit: "ms",
  higherIsBetter: false,
  notes: [
    "The process was never swapped: everything comes from the log. Resume includes starting a new process (see cold start).",
    "Both reads are likely served by the page cache.",
  ],
  async run(context: RunContext) {
    const { env, plan } = context;
    const name = "recovery";
    // Never compacted while filling (default: past 64 MiB), so the whole state is in the log
    // and the baseline reads every byte the resume reads.
    const limits = { walCompactBytes: 4 * plan.recoveryKeys * plan.recoveryValueBytes };
    const proc = await env.createProcess("suite", name, {
      durability: "log",
      memory: 1024,
      limits,
    });
    const app = proc.app;
    const connection = await proc.connect();
    context.progress(`filling ${plan.recoveryKeys} keys`);
    const fill = { keys: plan.recoveryKeys, size: plan.recoveryValueBytes, writers: 64 };
    await connection.invoke("fillKeys", fill);
    await connection.close();
    const wal = path.join(env.workDir, "data", "wal", app, `${name}.wal`);
    const ours: number[] = [];
    const disk: number[] = [];
    for (let i = 0; i < plan.recoveryRepetitions; i++) {
      context.progress(`kill + resume ${i + 1}/${plan.recoveryRepetitions}`);
      ours.push(await killAndResume(env, app, name));
      disk.push(await readUs(wal));
    }
    await checkKeys(env, app, name, plan.recoveryKeys);
    const bytes = (await stat(wal)).size;
    const label = `${plan.recoveryKeys} keys, ${round(bytes / (1024 * 1024), 1)} MiB`;
    const oursMetric = metricOf(summarize(Float64Array.from(ours)), "ms");
    const diskMetric = metricOf(summarize(Float64Array.from(disk)), "ms");
    return [makeRow({ keys: plan.recoveryKeys, bytes }, label, oursMetric, diskMetric)];
  },
};
