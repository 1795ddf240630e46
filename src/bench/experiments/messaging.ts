/** 4. Messaging: the paper's IPC ping-pong between two processes, versus Redis SET + polling GET. */
import { randomBytes } from "node:crypto";
import type { Experiment, RunContext } from "../experiment.js";
import { functionSide, sweep } from "./shared.js";

export const messaging: Experiment = {
  name: "messaging",
  title: "Messaging between two processes (ping-pong, one-way latency)",
  ours: "`ctx.put` + `ctx.get` between processes A and B created through the control plane; RTT/2",
  baseline:
    "the same ping-pong between the same two processes through Redis `SET` + polling `GET` (GETDEL); RTT/2",
  unit: "µs",
  higherIsBetter: false,
  notes: [
    "A's function starts B's responder with `ctx.invoke(..., {process: B})` (not awaited), then times each round.",
    "Redis polling backoff: first retry immediate (setImmediate), then 1 ms sleeps; the paper sleeps `retries` ms (linear), which is slower.",
    "Paper §6.2 (C++ on Fargate): PraaS 0.196 ms vs Redis 2.89 ms one-way at 10 B.",
  ],
  goal: (row) => {
    const size = row.params.size ?? 0;
    if (size <= 1024) return { target: "≤ 0.1×", met: row.ratio <= 0.1 };
    return { target: "≤ 1×", met: row.ratio <= 1 };
  },
  async run(context: RunContext) {
    const { env, plan } = context;
    const [a] = await Promise.all([
      env.createProcess("suite", "ping-a", { vcpus: 1 }),
      env.createProcess("suite", "ping-b", { vcpus: 1 }),
    ]);
    const connection = await a.connect();
    env.defer(() => connection.close());
    const url = (await env.redis()).url;
    const tag = (): string => randomBytes(4).toString("hex");
    return sweep(context, plan.sizes, {
      ours: functionSide(connection, "pingpong", () => ({ peer: "ping-b", tag: tag() })),
      baseline: functionSide(connection, "redisPingpong", () => ({
        peer: "ping-b",
        tag: tag(),
        url,
      })),
    });
  },
};
