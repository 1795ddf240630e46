/**
 * 4. Messaging: the paper's ping-pong between two processes (one-way latency = RTT/2), versus
 * half a raw TCP round trip between two Node processes (the goal) and, as the paper
 * compares it, versus the same ping-pong through Redis SET + polling GET (`messaging-redis`).
 */
import { randomBytes } from "node:crypto";
import type { ProcessConnection } from "../../sdk/index.js";
import type { Experiment, RunContext } from "../experiment.js";
import { MIB } from "../plan.js";
import { RawEchoClient } from "../raw-echo.js";
import { clientSide, functionSide, sweep, type Side } from "./shared.js";

const PEER = "ping-b";

/** Processes A and B through the control plane; resolves a connection to A. */
async function pingPongPair(env: RunContext["env"]): Promise<ProcessConnection> {
  const [a] = await Promise.all([
    env.createProcess("suite", "ping-a", { vcpus: 1 }),
    env.createProcess("suite", PEER, { vcpus: 1 }),
  ]);
  const connection = await a.connect();
  env.defer(() => connection.close());
  return connection;
}

const tag = (): string => randomBytes(4).toString("hex");

/** A's ping-pong with B through `ctx.put` + `ctx.get`, RTT/2, timed inside the function. */
function oursSide(connection: ProcessConnection): Side {
  return functionSide(connection, "pingpong", () => ({ peer: PEER, tag: tag() }));
}

/** Half of each duration: one way of a round trip. */
function halved(side: Side): Side {
  return async (size, rounds, warmup) => (await side(size, rounds, warmup)).map((us) => us / 2);
}

const PING_PONG_NOTE =
  "A's function starts B's responder with `ctx.invoke(..., {process: B})` (not awaited), then times each round.";

export const messaging: Experiment = {
  name: "messaging",
  title: "Messaging between two processes (ping-pong, one-way latency)",
  ours: "`ctx.put` + `ctx.get` between processes A and B created through the control plane; RTT/2",
  baseline:
    "half a raw Node TCP echo round trip between two Node processes (the bench and the echo server), same payload",
  unit: "µs",
  higherIsBetter: false,
  notes: [
    PING_PONG_NOTE,
    "Goal, 10 B – 1 MiB: ≤ 2× (a message should cost two socket hops at raw cost).",
    "`messaging-redis` compares the same ping-pong with Redis, as the paper does.",
  ],
  goal: (row) =>
    (row.params.size ?? 0) <= MIB ? { target: "≤ 2×", met: row.ratio <= 2 } : undefined,
  async run(context: RunContext) {
    const { env, plan } = context;
    const connection = await pingPongPair(env);
    const raw = await RawEchoClient.connect((await env.rawEcho()).port);
    env.defer(() => raw.close());
    return sweep(context, plan.sizes, {
      ours: oursSide(connection),
      baseline: halved(clientSide((payload) => raw.echo(payload))),
    });
  },
};

export const messagingRedis: Experiment = {
  name: "messaging-redis",
  title: "Messaging between two processes versus Redis (the paper's comparison)",
  ours: "`ctx.put` + `ctx.get` between processes A and B created through the control plane; RTT/2",
  baseline:
    "the same ping-pong between the same two processes through Redis `SET` + polling `GET` (GETDEL); RTT/2",
  unit: "µs",
  higherIsBetter: false,
  notes: [
    PING_PONG_NOTE,
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
    const connection = await pingPongPair(env);
    const url = (await env.redis()).url;
    return sweep(context, plan.sizes, {
      ours: oursSide(connection),
      baseline: functionSide(connection, "redisPingpong", () => ({ peer: PEER, tag: tag(), url })),
    });
  },
};
