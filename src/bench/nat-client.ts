/**
 * The client side of the NAT rows (src/bench/nat-site.ts), run inside private network B: the
 * bench process cannot reach the namespaces, so it sends this script one JSON request per stdin
 * line and gets one JSON reply per stdout line. It deploys the echo app to each control plane,
 * creates one process there and keeps a connection to it; timings come back as base64 float64s
 * (µs). Ends when stdin closes.
 */
import { randomFillSync } from "node:crypto";
import readline from "node:readline";
import { PraaS, type Process, type ProcessConnection } from "../sdk/index.js";
import { sample } from "./stats.js";

export type NatClientRequest =
  | { op: "deploy"; planes: Record<string, string>; app: string }
  | { op: "echo"; plane: string; size: number; rounds: number; warmup: number }
  | { op: "connect"; plane: string; rounds: number; warmup: number }
  | { op: "outcomes"; plane: string };

interface Target {
  url: string;
  client: PraaS;
  process: Process;
  connection: ProcessConnection;
}

const targets = new Map<string, Target>();
const APP = "bench-echo";

function targetOf(plane: string): Target {
  const target = targets.get(plane);
  if (target === undefined) throw new Error(`no control plane ${plane}`);
  return target;
}

async function deploy(planes: Record<string, string>, app: string): Promise<object> {
  const paths: Record<string, string> = {};
  for (const [plane, url] of Object.entries(planes)) {
    const client = new PraaS(url);
    await client.deploy(APP, app);
    const created = await client.createProcess(APP, "nat", { vcpus: 1 });
    const connection = await created.connect();
    targets.set(plane, { url, client, process: created, connection });
    paths[plane] = created.info.connection?.path ?? "direct";
  }
  return { paths };
}

async function echo(plane: string, size: number, rounds: number, warmup: number) {
  const { connection } = targetOf(plane);
  const payload = randomFillSync(Buffer.allocUnsafe(size));
  const invoke = async (): Promise<void> => {
    const output = await connection.invoke("echo", payload);
    if (output.length !== size) throw new Error(`echo returned ${output.length} of ${size} bytes`);
  };
  return { samples: encode(await sample(invoke, { warmup, iterations: rounds })) };
}

/** Opening a connection (a NAT'd one asks for a fresh ticket and pairs), timed; closed untimed. */
async function connectTimes(plane: string, rounds: number, warmup: number) {
  const target = targetOf(plane);
  const samples = new Float64Array(rounds);
  for (let i = -warmup; i < rounds; i++) {
    const start = process.hrtime.bigint();
    const connection = await target.process.connect();
    const us = Number(process.hrtime.bigint() - start) / 1000;
    await connection.close();
    if (i >= 0) samples[i] = us;
  }
  return { samples: encode(samples) };
}

/** The rendezvous outcome counters of a control plane's /metrics (none without a rendezvous). */
async function outcomes(plane: string): Promise<object> {
  const response = await fetch(`${targetOf(plane).url}/metrics`);
  const counts: Record<string, number> = {};
  for (const line of (await response.text()).split("\n")) {
    const match = /^praas_rendezvous_outcomes_total\{outcome="(\w+)"\} (\d+)/.exec(line);
    if (match?.[1] !== undefined) counts[match[1]] = Number(match[2]);
  }
  return counts;
}

function encode(samples: Float64Array): string {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).toString("base64");
}

function handle(request: NatClientRequest): Promise<object> {
  switch (request.op) {
    case "deploy":
      return deploy(request.planes, request.app);
    case "echo":
      return echo(request.plane, request.size, request.rounds, request.warmup);
    case "connect":
      return connectTimes(request.plane, request.rounds, request.warmup);
    case "outcomes":
      return outcomes(request.plane);
  }
}

async function closeAll(): Promise<void> {
  for (const target of targets.values()) {
    await target.connection.close().catch(() => undefined);
    await target.client.close();
  }
}

/** One request at a time: the bench waits for each reply before it sends the next. */
async function serve(): Promise<void> {
  for await (const line of readline.createInterface({ input: process.stdin })) {
    let reply: object;
    try {
      reply = { ok: await handle(JSON.parse(line) as NatClientRequest) };
    } catch (error) {
      reply = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    }
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  }
  await closeAll();
}

await serve();
process.exit(0);
