/** 3. Control-plane invocation: HTTP → control plane → process, versus a bare Fastify echo. */
import { Pool } from "undici";
import { startFastifyEcho } from "../baselines/fastify-echo.js";
import type { Experiment, RunContext } from "../experiment.js";
import { clientSide, expectLength, sweep } from "./shared.js";

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

export const controlPlane: Experiment = {
  name: "control-plane",
  title: "Control-plane invocation (sticky)",
  ours: "`POST /apps/:app/invoke/echo?process=P` to the in-process control plane (undici Pool, keep-alive)",
  baseline:
    "bare Fastify echo route (raw Buffer body) in the same process, same undici client type",
  unit: "µs",
  higherIsBetter: false,
  notes: ["Paper §6.1.1: the control-plane hop costs about 1 ms per call over the data plane."],
  goal: (row) => ({ target: "≤ 1.5×", met: row.ratio <= 1.5 }),
  async run(context: RunContext) {
    const { env, plan } = context;
    const app = await env.deploy("echo");
    await env.createProcess("echo", "sticky", { vcpus: 1 });
    const praas = keepAlivePool((await env.cluster()).plane.url, env);
    const echo = await startFastifyEcho();
    env.defer(() => echo.stop());
    const bare = keepAlivePool(echo.url, env);
    const path = `/apps/${app}/invoke/echo?process=sticky`;
    return sweep(context, plan.sizes, {
      ours: clientSide(async (payload) => expectLength(await post(praas, path, payload), payload)),
      baseline: clientSide(async (payload) =>
        expectLength(await post(bare, "/echo", payload), payload),
      ),
    });
  },
};
