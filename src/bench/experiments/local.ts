/** 2. Local invocation: function → `ctx.invoke` → function in the same process, versus child IPC. */
import { startIpcEcho } from "../baselines/ipc-echo.js";
import type { Experiment, RunContext } from "../experiment.js";
import { clientSide, functionSide, sweep } from "./shared.js";

export const local: Experiment = {
  name: "local",
  title: "Local invocation (function → function, same process)",
  ours: '`ctx.invoke("echo", payload)` in a loop inside a function (1 worker), timed with performance.now()',
  baseline:
    'round trip to a forked Node child over its IPC channel (`serialization: "advanced"`), timed in the bench',
  unit: "µs",
  higherIsBetter: false,
  notes: [
    "Ours runs the callee in the calling worker: no socket, but the payload and the result are copied (the callee gets its own bytes, as through the process), and the process is told of the call in a batched notice.",
    "At 100 KiB and up the two copies dominate: fresh buffers for them cost page faults and collections, far more than the memcpy itself.",
    "Paper §6.1 `praas_local`: 73 µs at 10 B, 4.2 ms at 1 MiB (C++).",
  ],
  goal: (row) => ({ target: "≤ 0.5×", met: row.ratio <= 0.5 }),
  async run(context: RunContext) {
    const { env, plan } = context;
    const { connection } = await env.launch("suite", "local");
    const ipc = await startIpcEcho();
    env.defer(() => ipc.stop());
    return sweep(context, plan.sizes, {
      ours: functionSide(connection, "localLoop"),
      baseline: clientSide((payload) => ipc.echo(payload)),
    });
  },
};
