/** 9. Swap: swap-out + resume of a process holding N MiB of state, versus disk write + read. */
import path from "node:path";
import { mkdir } from "node:fs/promises";
import { diskRoundTrip, type DiskTimes } from "../baselines/disk.js";
import type { CreateProcessBody } from "../../sdk/index.js";
import type { Environment } from "../environment.js";
import {
  makeRow,
  metricOf,
  round,
  type Experiment,
  type Row,
  type RunContext,
} from "../experiment.js";
import { MIB } from "../plan.js";
import { summarize } from "../stats.js";

interface Cycle {
  swapUs: number;
  resumeUs: number;
}

/** Creates the process (`body`: 1 vCPU, 1 GiB) and fills its state with `mib` values of 1 MiB. */
export async function filledProcess(
  env: Environment,
  name: string,
  mib: number,
  body: CreateProcessBody = { vcpus: 1, memory: 1024 },
): Promise<void> {
  const created = await env.createProcess("echo", name, body);
  const connection = await created.connect();
  await connection.invoke("fill", { mib });
  await connection.close();
}

async function swapCycle(env: Environment, name: string, bytes: number): Promise<Cycle> {
  const { client } = await env.cluster();
  const app = await env.deploy("echo");
  const start = performance.now();
  const swapped = await client.swap(app, name);
  const between = performance.now();
  await client.resume(app, name);
  const resumeUs = (performance.now() - between) * 1000;
  if ((swapped.stateSize ?? 0) < bytes) throw new Error(`swapped only ${swapped.stateSize} bytes`);
  return { swapUs: (between - start) * 1000, resumeUs };
}

/** After the last resume, the state is all there. */
export async function checkState(env: Environment, name: string, mib: number): Promise<void> {
  const { client } = await env.cluster();
  const connection = await (await client.getProcess(await env.deploy("echo"), name)).connect();
  const found = JSON.parse(Buffer.from(await connection.invoke("inspect")).toString()) as {
    keys: number;
    lastBytes: number;
  };
  await connection.close();
  if (found.keys !== mib || found.lastBytes !== MIB)
    throw new Error(`state lost: ${JSON.stringify(found)}`);
}

const medianMs = (values: number[]): number =>
  round(summarize(Float64Array.from(values)).medianUs / 1000, 1);
const mbps = (bytes: number, us: number): number => round(bytes / us, 1);

function rowOf(mib: number, cycles: Cycle[], disk: DiskTimes[]): Row {
  const ours = summarize(Float64Array.from(cycles.map((c) => c.swapUs + c.resumeUs)));
  const baseline = summarize(Float64Array.from(disk.map((d) => d.writeUs + d.readUs)));
  const bytes = mib * MIB;
  const extra = {
    "swap-out ms": medianMs(cycles.map((c) => c.swapUs)),
    "resume ms": medianMs(cycles.map((c) => c.resumeUs)),
    "ours MB/s": mbps(bytes, ours.medianUs),
    "disk write ms": medianMs(disk.map((d) => d.writeUs)),
    "disk read ms": medianMs(disk.map((d) => d.readUs)),
    "disk MB/s": mbps(bytes, baseline.medianUs),
  };
  return makeRow({ mib }, `${mib} MiB`, metricOf(ours, "ms"), metricOf(baseline, "ms"), extra);
}

async function measureSize(context: RunContext, mib: number, diskDir: string): Promise<Row> {
  const { env, plan } = context;
  const name = `swap-${mib}`;
  context.progress(`${mib} MiB: filling`);
  await filledProcess(env, name, mib);
  const cycles: Cycle[] = [];
  const disk: DiskTimes[] = [];
  for (let i = 0; i < plan.swapRepetitions(mib); i++) {
    context.progress(`${mib} MiB: swap + resume ${i + 1}/${plan.swapRepetitions(mib)}`);
    cycles.push(await swapCycle(env, name, mib * MIB));
    disk.push(await diskRoundTrip(diskDir, mib * MIB));
  }
  await checkState(env, name, mib);
  return rowOf(mib, cycles, disk);
}

export const swap: Experiment = {
  name: "swap",
  title: "Swap-out + resume",
  ours: "SDK `swap` then `resume` of a process holding N MiB of state (N values of 1 MiB), disk blob store",
  baseline:
    "sequential 1 MiB writes + fsync, then a read of the same bytes, in the same data directory",
  unit: "ms",
  higherIsBetter: false,
  notes: [
    "Resume includes starting a new process (see cold start); both reads come from the page cache.",
    "MB/s = bytes / (swap-out + resume) and bytes / (write + read), 10^6 bytes.",
    "Goal, 100 MiB: ≤ 2× the disk's own write + read (half its bandwidth); full runs only (--quick stops at 10 MiB).",
    "`resume` times a resume to its first result on its own.",
  ],
  goal: (row) =>
    (row.params.mib ?? 0) >= 100 ? { target: "≤ 2×", met: row.ratio <= 2 } : undefined,
  async run(context: RunContext) {
    const diskDir = path.join(context.env.workDir, "data", "disk-baseline");
    await mkdir(diskDir, { recursive: true });
    const rows: Row[] = [];
    for (const mib of context.plan.swapMiB) rows.push(await measureSize(context, mib, diskDir));
    return rows;
  },
};
