/** 5. State: `state.put` + `state.get` from a function, versus Redis `SET` + `GET`. */
import type { Experiment, RunContext } from "../experiment.js";
import { functionSide, sweep } from "./shared.js";

export const state: Experiment = {
  name: "state",
  title: "State access from a function (put + get pair)",
  ours: "`ctx.state.put(key, v)` + `ctx.state.get(key)`, timed inside the function",
  baseline: "the same function doing Redis `SET` + `GET` (ioredis, loopback redis-server)",
  unit: "µs",
  higherIsBetter: false,
  notes: ["Both sides run in the same worker of the same process; only the store differs."],
  goal: (row) => ({ target: "≤ 0.2×", met: row.ratio <= 0.2 }),
  async run(context: RunContext) {
    const { env, plan } = context;
    const { connection } = await env.launch("suite", "state");
    const url = (await env.redis()).url;
    return sweep(context, plan.stateSizes, {
      ours: functionSide(connection, "stateOps"),
      baseline: functionSide(connection, "redisOps", () => ({ url })),
    });
  },
};
