/**
 * 10. Resume: a swapped process holding 1 MiB of state → its first result, versus reading the
 * same bytes (its snapshot) from disk plus one raw TCP round trip.
 */
import { snapshotKey } from "../../control-plane/records.js";
import { openBlobStore, type BlobStore } from "../../storage/index.js";
import type { Environment } from "../environment.js";
import {
  makeRow,
  metricOf,
  round,
  type Experiment,
  type Row,
  type RunContext,
} from "../experiment.js";
import { MIB } from "../plan.js";
import { RawEchoClient } from "../raw-echo.js";
import { summarize, timeOnce } from "../stats.js";
import { expectLength, payloadOf, poolRefilled } from "./shared.js";
import { checkState, filledProcess } from "./swap.js";

const NAME = "resume-1";
const PAYLOAD = payloadOf(10);

interface Times {
  resumeUs: number;
  firstCallUs: number;
  readUs: number;
  roundTripUs: number;
}

/** Resume → connect → first echo result, timed from the resume request. */
async function resumeToFirstResult(env: Environment, app: string): Promise<[number, number]> {
  const { client, plane } = await env.cluster();
  await poolRefilled(plane); // the resume takes a pooled runtime, as on a machine at rest
  const start = performance.now();
  const resumed = await client.resume(app, NAME);
  const resumedAt = performance.now();
  const connection = await resumed.connect();
  expectLength(await connection.invoke("echo", PAYLOAD), PAYLOAD);
  const end = performance.now();
  await connection.close();
  return [(resumedAt - start) * 1000, (end - resumedAt) * 1000];
}

/** The snapshot's bytes read back from the blob store, then one raw echo round trip. */
async function baseline(blobs: BlobStore, raw: RawEchoClient, key: string): Promise<number[]> {
  const readUs = await timeOnce(async () => {
    const bytes = await blobs.getBytes(key);
    if ((bytes?.length ?? 0) < MIB) throw new Error(`snapshot ${key}: ${bytes?.length} bytes`);
  });
  return [readUs, await timeOnce(() => raw.echo(PAYLOAD))];
}

/** One swap-out (untimed), the baseline on the stored snapshot, then our resume. */
async function cycle(env: Environment, blobs: BlobStore, raw: RawEchoClient): Promise<Times> {
  const { client } = await env.cluster();
  const app = await env.deploy("echo");
  await client.swap(app, NAME);
  const [readUs = 0, roundTripUs = 0] = await baseline(blobs, raw, snapshotKey(app, NAME));
  const [resumeUs, firstCallUs] = await resumeToFirstResult(env, app);
  return { resumeUs, firstCallUs, readUs, roundTripUs };
}

const median = (values: number[]): number => summarize(Float64Array.from(values)).medianUs;
const stats = (values: number[]): ReturnType<typeof summarize> =>
  summarize(Float64Array.from(values));

function rowOf(times: Times[]): Row {
  const ours = stats(times.map((t) => t.resumeUs + t.firstCallUs));
  const base = stats(times.map((t) => t.readUs + t.roundTripUs));
  const extra = {
    "resume ms": round(median(times.map((t) => t.resumeUs)) / 1000, 2),
    "connect + first call ms": round(median(times.map((t) => t.firstCallUs)) / 1000, 2),
    "disk read ms": round(median(times.map((t) => t.readUs)) / 1000, 2),
    "raw TCP round trip ms": round(median(times.map((t) => t.roundTripUs)) / 1000, 3),
  };
  return makeRow({ mib: 1 }, "1 MiB", metricOf(ours, "ms"), metricOf(base, "ms"), extra);
}

export const resume: Experiment = {
  name: "resume",
  title: "Resume of a swapped process → first result (1 MiB of state)",
  ours: 'SDK `resume` of a swapped process holding 1 MiB of state → connect → first `invoke("echo")` result (10 B)',
  baseline:
    "reading the same bytes (its stored snapshot, through the same disk blob store) + one raw Node TCP echo round trip (10 B)",
  unit: "ms",
  higherIsBetter: false,
  notes: [
    "Each round swaps the process out (untimed), times the baseline on the snapshot just written, then the resume; both reads come from the page cache.",
    "The process has 1 vCPU and the default memory (512 MiB), the size of the warm pool's runtimes unless `warmPoolMemoryMiB` says otherwise, so that a resume can take one.",
    "Goal: ≤ 3× (tens of ms, not hundreds).",
  ],
  goal: (row) => ({ target: "≤ 3×", met: row.ratio <= 3 }),
  async run(context: RunContext) {
    const { env, plan } = context;
    // The default memory: the warm pool's slots have it by default, so a resume may take one.
    await filledProcess(env, NAME, 1, { vcpus: 1 });
    const blobs = await openBlobStore((await env.cluster()).plane.config.blobs);
    env.defer(() => blobs.close());
    const raw = await RawEchoClient.connect((await env.rawEcho()).port);
    env.defer(() => raw.close());
    await cycle(env, blobs, raw); // warm-up, untimed
    const times: Times[] = [];
    for (let i = 0; i < plan.resumeRepetitions; i++) {
      context.progress(`resume ${i + 1}/${plan.resumeRepetitions}`);
      times.push(await cycle(env, blobs, raw));
    }
    await checkState(env, NAME, 1);
    return [rowOf(times)];
  },
};
