/**
 * 3. Control-plane invocation: HTTP → control plane → process, versus the two hops it is made
 * of done bare: a Fastify echo (the HTTP hop) plus a raw TCP echo (the data-plane hop).
 */
import { Pool } from "undici";
import { startFastifyEcho } from "../baselines/fastify-echo.js";
import { metricOf, type Experiment, type Row, type RunContext } from "../experiment.js";
import { RawEchoClient } from "../raw-echo.js";
import { clientSide, expectLength, summedSide, sweep, type SummedSide } from "./shared.js";

const HEADERS = { "content-type": "application/octet-stream" };

/** POSTs the payload and reads the whole response body. */
async function post(pool: Pool, path: string, payload: Buffer): Promise<Buffer> {
  const response = await pool.request({ method: "POST", path, body: payload, headers: HEADERS });
  const body = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200)
    throw new Error(`HTTP ${response.statusCode}: ${body.toString()}`);
  return body;
}

function keepAlivePool(url: string, env: RunContext["env"]): Pool {
  const pool = new Pool(url, { connections: 1, pipelining: 1 });
  env.defer(() => pool.close());
  return pool;
}

/** The bare Fastify echo and the raw TCP echo, one after the other, each timed. */
async function bareHops(env: RunContext["env"]): Promise<SummedSide> {
  const echo = await startFastifyEcho();
  env.defer(() => echo.stop());
  const bare = keepAlivePool(echo.url, env);
  const raw = await RawEchoClient.connect((await env.rawEcho()).port);
  env.defer(() => raw.close());
  return summedSide(
    async (payload) => expectLength(await post(bare, "/echo", payload), payload),
    (payload) => raw.echo(payload),
  );
}

/** Both parts of the baseline beside the row's sum. */
function withParts(row: Row, hops: SummedSide): Row {
  const [fastify, tcp] = hops.parts(row.params.size ?? 0).map((stats) => metricOf(stats));
  const parts = {
    "Fastify echo µs": fastify?.median ?? NaN,
    "raw TCP echo µs": tcp?.median ?? NaN,
  };
  return { ...row, extra: { ...row.extra, ...parts } };
}

export const controlPlane: Experiment = {
  name: "control-plane",
  title: "Control-plane invocation (sticky)",
  ours: "`POST /apps/:app/invoke/echo?process=P` to the in-process control plane (undici Pool, keep-alive)",
  baseline:
    "bare Fastify echo route (raw Buffer body, same process, same undici client type) + raw Node TCP echo round trip (server in its own process), both timed in each round; baseline = their sum",
  unit: "µs",
  higherIsBetter: false,
  notes: [
    "Goal: ≤ 1.3× the sum of the two bare hops (the control plane should add one HTTP hop and nothing more).",
    "The Fastify and raw TCP columns are each part's median; the baseline median is the median of the per-round sums.",
    "Paper §6.1.1: the control-plane hop costs about 1 ms per call over the data plane.",
  ],
  goal: (row) => ({ target: "≤ 1.3×", met: row.ratio <= 1.3 }),
  async run(context: RunContext) {
    const { env, plan } = context;
    const app = await env.deploy("echo");
    await env.createProcess("echo", "sticky", { vcpus: 1 });
    const praas = keepAlivePool((await env.cluster()).plane.url, env);
    const hops = await bareHops(env);
    const path = `/apps/${app}/invoke/echo?process=sticky`;
    const rows = await sweep(context, plan.sizes, {
      ours: clientSide(async (payload) => expectLength(await post(praas, path, payload), payload)),
      baseline: hops.side,
    });
    return rows.map((row) => withParts(row, hops));
  },
};
