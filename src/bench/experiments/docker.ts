/**
 * 12–13. The docker backend beside local: cold start (create → first echo result) and direct
 * invocation (echo over the data plane: a container's published port, through docker-proxy,
 * versus a local child process). Skipped, saying why, on a machine without Docker or without
 * the runtime image (`praas images build --local-base`).
 */
import type { Environment } from "../environment.js";
import { makeRow, metricOf, type Experiment, type RunContext } from "../experiment.js";
import { summarize } from "../stats.js";
import { clientSide, expectLength, sweep } from "./shared.js";

/** Create → connect → first echo, in µs; the process is deleted afterwards (untimed). */
async function coldStartOn(cluster: Awaited<ReturnType<Environment["cluster"]>>, name: string) {
  const start = performance.now();
  const created = await cluster.client.createProcess("bench-echo", name, { vcpus: 1 });
  const connection = await created.connect();
  await connection.invoke("echo", "x");
  const us = (performance.now() - start) * 1000;
  await connection.close();
  await cluster.client.deleteProcess("bench-echo", name);
  return us;
}

export const dockerColdStart: Experiment = {
  name: "docker-cold-start",
  title: "Cold start: docker backend vs local backend",
  ours: "docker backend: createProcess (a container of praas-runtime, 1 worker) → connect → first echo",
  baseline: "local backend: the same on a child process",
  unit: "ms",
  higherIsBetter: false,
  notes: ["The container fetches its bundle over the control link before it registers."],
  async run(context: RunContext) {
    const { env, plan } = context;
    const docker = await env.dockerCluster();
    await env.deploy("echo");
    const local = await env.cluster();
    await coldStartOn(docker, "dcold-warmup");
    const ours: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < plan.coldStarts; i++) {
      context.progress(`start ${i + 1}/${plan.coldStarts}`);
      ours.push(await coldStartOn(docker, `dcold-${i}`));
      baseline.push(await coldStartOn(local, `lcold-${i}`));
    }
    const stats = (values: number[]) => metricOf(summarize(Float64Array.from(values)), "ms");
    return [makeRow({}, "cold start", stats(ours), stats(baseline))];
  },
};

export const dockerDirect: Experiment = {
  name: "docker-direct",
  title: "Direct invocation (echo): docker backend vs local backend",
  ours: 'SDK `ProcessConnection.invoke("echo")` to a container (published port), one call at a time',
  baseline: "the same to a local child process",
  unit: "µs",
  higherIsBetter: false,
  notes: ["The published port adds Docker's port forwarding to every round trip."],
  async run(context: RunContext) {
    const { env, plan } = context;
    const docker = await env.dockerCluster();
    const inContainer = await docker.client.createProcess("bench-echo", "ddirect", { vcpus: 1 });
    env.defer(() => docker.client.deleteProcess("bench-echo", "ddirect"));
    const local = await env.createProcess("echo", "ldirect", { vcpus: 1 });
    const [ours, baseline] = await Promise.all([inContainer.connect(), local.connect()]);
    env.defer(() => ours.close());
    env.defer(() => baseline.close());
    return sweep(context, plan.sizes, {
      ours: clientSide(async (payload) =>
        expectLength(await ours.invoke("echo", payload), payload),
      ),
      baseline: clientSide(async (payload) =>
        expectLength(await baseline.invoke("echo", payload), payload),
      ),
    });
  },
};
