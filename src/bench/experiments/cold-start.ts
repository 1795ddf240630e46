/** 8. Cold start: create a process through the control plane → first result, versus `node` → first reply. */
import { nodeColdStart } from "../baselines/cold-node.js";
import type { Environment } from "../environment.js";
import { makeRow, metricOf, round, type Experiment, type RunContext } from "../experiment.js";
import { summarize } from "../stats.js";

interface Start {
  totalUs: number;
  createUs: number;
}

/** Creates a process, connects, invokes echo once; deletes it afterwards (untimed). */
async function praasColdStart(env: Environment, name: string): Promise<Start> {
  const { client } = await env.cluster();
  const app = await env.deploy("echo");
  const start = performance.now();
  const created = await client.createProcess(app, name, { vcpus: 1 });
  const createUs = (performance.now() - start) * 1000;
  const connection = await created.connect();
  await connection.invoke("echo", "x");
  const totalUs = (performance.now() - start) * 1000;
  await connection.close();
  await client.deleteProcess(app, name);
  return { totalUs, createUs };
}

const median = (values: number[]): number => summarize(Float64Array.from(values)).medianUs;

export const coldStart: Experiment = {
  name: "cold-start",
  title: "Cold start (local backend)",
  ours: "SDK `createProcess` (PUT /apps/:app/processes/:p, 1 worker) → connect → first echo result",
  baseline: "`spawn(node, [tiny TCP server])` → first TCP reply",
  unit: "ms",
  higherIsBetter: false,
  notes: [
    "Ours starts two Node processes in sequence (the cloud process, then its worker, which imports the bundle) and registers with the control plane.",
    "One untimed start of each first; `create` = until createProcess resolved (process active).",
  ],
  async run(context: RunContext) {
    const { env, plan } = context;
    await praasColdStart(env, "cold-warmup");
    await nodeColdStart();
    const ours: Start[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < plan.coldStarts; i++) {
      context.progress(`start ${i + 1}/${plan.coldStarts}`);
      ours.push(await praasColdStart(env, `cold-${i}`));
      baseline.push(await nodeColdStart());
    }
    const extra = {
      "create ms": round(median(ours.map((s) => s.createUs)) / 1000, 2),
      "connect + first call ms": round(median(ours.map((s) => s.totalUs - s.createUs)) / 1000, 2),
    };
    const oursStats = summarize(Float64Array.from(ours.map((s) => s.totalUs)));
    const baseStats = summarize(Float64Array.from(baseline));
    return [makeRow({}, "cold start", metricOf(oursStats, "ms"), metricOf(baseStats, "ms"), extra)];
  },
};
