/** 6. State reduction (paper §6.3): repeated calls accumulating a vector in state or in Redis. */
import type { ProcessConnection } from "../../sdk/index.js";
import { makeRow, metricOf, type Experiment, type Row, type RunContext } from "../experiment.js";
import { summarize, type Stats } from "../stats.js";

/** The functions' payload: u16 URL length, the URL (empty for ours), the float64 vector. */
function encode(url: string, elements: number): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16LE(Buffer.byteLength(url));
  const vector = Float64Array.from({ length: elements }, (_, i) => i);
  return Buffer.concat([head, Buffer.from(url), Buffer.from(vector.buffer)]);
}

/** Client-side time of `messages` calls in a row, after an untimed reset. */
async function timeCalls(
  connection: ProcessConnection,
  fn: string,
  payload: Buffer,
  messages: number,
): Promise<number> {
  await connection.invoke("reduceReset", payload.subarray(0, 2 + payload.readUInt16LE(0)));
  const start = performance.now();
  for (let i = 0; i < messages; i++) await connection.invoke(fn, payload);
  return (performance.now() - start) * 1000;
}

async function repeat(repetitions: number, once: () => Promise<number>): Promise<Stats> {
  await once();
  const samples = new Float64Array(repetitions);
  for (let i = 0; i < repetitions; i++) samples[i] = await once();
  return summarize(samples);
}

async function cell(
  context: RunContext,
  connection: ProcessConnection,
  url: string,
  messages: number,
  elements: number,
): Promise<Row> {
  context.progress(`${messages} calls × ${elements} elements`);
  const repetitions = context.plan.reductionRepetitions(messages);
  const ours = await repeat(repetitions, () =>
    timeCalls(connection, "reduceState", encode("", elements), messages),
  );
  const baseline = await repeat(repetitions, () =>
    timeCalls(connection, "reduceRedis", encode(url, elements), messages),
  );
  const label = `${messages} × ${elements.toLocaleString("en-US")}`;
  return makeRow({ messages, elements }, label, metricOf(ours, "ms"), metricOf(baseline, "ms"));
}

export const reduction: Experiment = {
  name: "reduction",
  title: "State reduction (paper §6.3): total client time for N calls",
  ours: "N direct invocations, each adding a float64 vector into an accumulator in process state",
  baseline: "the same function keeping the accumulator in Redis (`GET`, add, `SET`)",
  unit: "ms",
  higherIsBetter: false,
  notes: [
    "Rows are calls × elements; every call sends the vector (8 bytes per element) as its payload.",
    "Paper (C++): 0.74 vs 1.44 ms for 1 call × 10 elements; 1075 vs 1091 ms for 100 × 100k.",
  ],
  async run(context: RunContext) {
    const { env, plan } = context;
    const { connection } = await env.launch("suite", "reduction");
    const url = (await env.redis()).url;
    const rows: Row[] = [];
    for (const messages of plan.reductionMessages) {
      for (const elements of plan.reductionElements) {
        rows.push(await cell(context, connection, url, messages, elements));
      }
    }
    return rows;
  },
};
