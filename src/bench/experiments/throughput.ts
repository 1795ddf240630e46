/** 7. Throughput: invocations/s on one process (2 workers) versus the raw TCP echo server. */
import { PipelinedEchoClient } from "../baselines/pipelined-echo.js";
import { makeRow, metricOf, type Experiment, type Row, type RunContext } from "../experiment.js";
import { measureRates } from "../rate.js";
import { payloadOf } from "./shared.js";

const SIZE = 10;

export const throughput: Experiment = {
  name: "throughput",
  title: "Throughput (10 B echo, one connection)",
  ours: "invocations/s on one process with 2 workers, N calls in flight on one SDK connection",
  baseline:
    "requests/s of the raw TCP echo server, N messages in flight (pipelined) on one connection",
  unit: "inv/s",
  higherIsBetter: true,
  notes: [
    "Median over 100 ms windows; the p99 column is the slowest 1% of windows; higher is better.",
    "After a warm-up of each, the two sides alternate in five slices of the run's time, so a drift of the machine's speed falls on both alike.",
  ],
  goal: (row) => ({ target: "≥ 0.5×", met: row.ratio >= 0.5 }),
  async run(context: RunContext) {
    const { env, plan } = context;
    const { connection } = await env.launch("echo", "throughput", 2);
    const raw = await PipelinedEchoClient.connect((await env.rawEcho()).port);
    env.defer(() => raw.close());
    const payload = payloadOf(SIZE);
    const durationMs = plan.throughputMs;
    const rows: Row[] = [];
    for (const inflight of plan.throughputInflight) {
      context.progress(`${inflight} in flight`);
      const options = { inflight, durationMs, warmupMs: Math.min(500, durationMs / 2) };
      const { ours, baseline } = await measureRates(
        () => connection.invoke("echo", payload),
        () => raw.echo(payload),
        options,
      );
      const label = `${inflight} in flight`;
      rows.push(makeRow({ inflight }, label, metricOf(ours), metricOf(baseline)));
    }
    return rows;
  },
};
