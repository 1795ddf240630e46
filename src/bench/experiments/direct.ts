/** 1. Direct invocation: SDK → process data plane, versus a raw TCP echo round trip. */
import type { Experiment, RunContext } from "../experiment.js";
import { RawEchoClient } from "../raw-echo.js";
import { clientSide, expectLength, sweep } from "./shared.js";

export const direct: Experiment = {
  name: "direct",
  title: "Direct invocation (echo)",
  ours: 'SDK `ProcessConnection.invoke("echo")` on a launched process (1 worker), one call at a time',
  baseline: "raw Node TCP echo round trip (length prefix, server in its own process), same payload",
  unit: "µs",
  higherIsBetter: false,
  notes: [
    "Goal: ≤ 1.3× the raw echo at every size (a socket handed to a child echoes at 1.0×).",
    "Paper §6.1 `praas_remote` vs netperf TCP_RR: about +70 µs over the raw round trip.",
  ],
  goal: (row) => ({ target: "≤ 1.3×", met: row.ratio <= 1.3 }),
  async run(context: RunContext) {
    const { env, plan } = context;
    const { connection } = await env.launch("echo", "direct");
    const raw = await RawEchoClient.connect((await env.rawEcho()).port);
    env.defer(() => raw.close());
    return sweep(context, plan.sizes, {
      ours: clientSide(async (payload) => {
        expectLength(await connection.invoke("echo", payload), payload);
      }),
      baseline: clientSide((payload) => raw.echo(payload)),
    });
  },
};
