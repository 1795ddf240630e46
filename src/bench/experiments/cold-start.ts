/**
 * 8. Cold start: create a process through the control plane → first result, versus `node` →
 * first reply; once taking a runtime from the warm pool, once (`--warm-pool 0`) starting one.
 */
import path from "node:path";
import { ControlPlane } from "../../control-plane/control-plane.js";
import { PraaS } from "../../sdk/index.js";
import { writeDeployable } from "../apps.js";
import { nodeColdStart } from "../baselines/cold-node.js";
import type { Environment } from "../environment.js";
import {
  makeRow,
  metricOf,
  round,
  type Experiment,
  type Row,
  type RunContext,
} from "../experiment.js";
import { summarize } from "../stats.js";
import { poolRefilled } from "./shared.js";

interface Start {
  totalUs: number;
  createUs: number;
}

interface Plane {
  plane: ControlPlane;
  client: PraaS;
  app: string;
}

/** An in-process control plane with this warm pool size and the echo app deployed. */
async function startPlane(env: Environment, warmPool: number): Promise<Plane> {
  const plane = await ControlPlane.start({
    port: 0,
    dataDir: path.join(env.workDir, `cold-start-${warmPool}`),
    store: { kind: "memory" },
    logLevel: "warn",
    warmPool,
  });
  const client = new PraaS(plane.url);
  env.defer(() => plane.stop());
  env.defer(() => client.close());
  await client.deploy("bench-echo", await writeDeployable("echo", env.workDir));
  return { plane, client, app: "bench-echo" };
}

/** Creates a process, connects, invokes echo once; deletes it afterwards (untimed). */
async function praasColdStart({ plane, client, app }: Plane, name: string): Promise<Start> {
  await poolRefilled(plane);
  const start = performance.now();
  const memory = plane.config.warmPoolMemoryMiB;
  const created = await client.createProcess(app, name, { vcpus: 1, memory });
  const createUs = (performance.now() - start) * 1000;
  const connection = await created.connect();
  await connection.invoke("echo", "x");
  const totalUs = (performance.now() - start) * 1000;
  await connection.close();
  await client.deleteProcess(app, name);
  return { totalUs, createUs };
}

const median = (values: number[]): number => summarize(Float64Array.from(values)).medianUs;

async function measure(context: RunContext, label: string, warmPool: number): Promise<Row> {
  const { env, plan } = context;
  const target = await startPlane(env, warmPool);
  await praasColdStart(target, "cold-warmup");
  const ours: Start[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < plan.coldStarts; i++) {
    context.progress(`${label}: start ${i + 1}/${plan.coldStarts}`);
    ours.push(await praasColdStart(target, `cold-${i}`));
    await poolRefilled(target.plane);
    baseline.push(await nodeColdStart());
  }
  const extra = {
    "create ms": round(median(ours.map((s) => s.createUs)) / 1000, 2),
    "connect + first call ms": round(median(ours.map((s) => s.totalUs - s.createUs)) / 1000, 2),
  };
  const oursStats = summarize(Float64Array.from(ours.map((s) => s.totalUs)));
  const baseStats = summarize(Float64Array.from(baseline));
  return makeRow({}, label, metricOf(oursStats, "ms"), metricOf(baseStats, "ms"), extra);
}

const WARM = "cold start, warm pool";

export const coldStart: Experiment = {
  name: "cold-start",
  title: "Cold start (local backend)",
  ours: "SDK `createProcess` (PUT /apps/:app/processes/:p, 1 worker) → connect → first echo result",
  baseline:
    "`spawn(node, [tiny TCP server])` with an empty environment, as our runtimes get → first TCP reply",
  unit: "ms",
  higherIsBetter: false,
  notes: [
    "Warm pool: the create takes a runtime started ahead (its worker booted), which loads the bundle and registers; the pool is refilled before the next start is timed.",
    "No warm pool (`--warm-pool 0`): the create starts two Node processes (the cloud process, which spawns its worker before it loads the rest of its code, and the worker, which imports the bundle) and registers with the control plane.",
    "One untimed start of each first; `create` = until createProcess resolved (process active).",
  ],
  goal: (row) =>
    row.label === WARM
      ? { target: "≤ 0.1×", met: row.ratio <= 0.1 }
      : { target: "≤ 1.2×", met: row.ratio <= 1.2 },
  async run(context: RunContext) {
    await nodeColdStart();
    const warm = await measure(context, WARM, 2);
    await context.env.endExperiment(); // stops the first plane before the second is measured
    return [warm, await measure(context, "cold start, no warm pool", 0)];
  },
};
