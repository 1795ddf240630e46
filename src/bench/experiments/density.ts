/**
 * 11. Density: processes of 1 vCPU and 128 MiB running the echo app, created through
 * a control plane until the plan's count (200 in a full run), a memory limit or a first failure;
 * each must still answer. Reports their RSS (cloud process + its workers, from /proc) against a
 * bare Node server's. Then swaps them, adds copies up to the plan's swapped count (10,000), times
 * `GET /apps/:app/processes` listing them all against a bare Fastify route sending the same bytes,
 * and resumes a sample to check they are resumable.
 */
import { inspect } from "node:util";
import { Pool } from "undici";
import { startFastifyBody } from "../baselines/fastify-echo.js";
import { idleNodeFootprint } from "../baselines/cold-node.js";
import {
  makeRow,
  metricOf,
  round,
  type Experiment,
  type Goal,
  type Metric,
  type Row,
  type RunContext,
} from "../experiment.js";
import type { Plan } from "../plan.js";
import {
  groupFootprints,
  memoryAvailableBytes,
  memoryTotalBytes,
  type Footprint,
} from "../proc-memory.js";
import { summarize, timeOnce } from "../stats.js";
import { Fleet, firstFailure, inBatches } from "./density-fleet.js";

const BAR = { active: 200, swapped: 10_000, listingMs: 100 };
const CREATE_CONCURRENCY = 4;
const SWAP_CONCURRENCY = 8;
const BARE_NODE_SAMPLES = 3;
const MIB = 1024 * 1024;

const activeName = (i: number): string => `a${String(i).padStart(5, "0")}`;
const copyName = (i: number): string => `s${String(i).padStart(5, "0")}`;
const reason = (error: unknown): string =>
  error instanceof Error ? error.message : inspect(error);
const median = (values: number[]): number => summarize(Float64Array.from(values)).medianUs;

/** Creating stops while the machine has less than this available (an eighth, at least 2 GiB). */
function lowOnMemory(): boolean {
  const total = memoryTotalBytes();
  return total > 0 && memoryAvailableBytes() < Math.max(2048 * MIB, total / 8);
}

interface Active {
  names: string[];
  /** Why fewer than the plan's count were created. */
  stoppedBy?: string;
}

/** Creates processes, a few at a time, until the plan's count, low memory or a failure. */
async function fillActive(context: RunContext, fleet: Fleet): Promise<Active> {
  const names: string[] = [];
  const target = context.plan.densityActive;
  while (names.length < target) {
    if (fleet.stopping) return { names, stoppedBy: "the run stopped" };
    if (lowOnMemory()) return { names, stoppedBy: "memory available below the reserve" };
    const size = Math.min(CREATE_CONCURRENCY, target - names.length);
    const batch = Array.from({ length: size }, (_, i) => activeName(names.length + i));
    const outcomes = await inBatches(batch, size, (name) => fleet.create(name));
    names.push(...batch.filter((_, i) => outcomes[i]?.status === "fulfilled"));
    const failure = firstFailure(outcomes);
    if (failure !== undefined) return { names, stoppedBy: `a create failed: ${reason(failure)}` };
    if (names.length % 20 === 0) context.progress(`${names.length} active`);
  }
  return { names };
}

/** How many of them answer an invocation now. */
async function answering(context: RunContext, fleet: Fleet, names: string[]): Promise<number> {
  const outcomes = await inBatches(names, SWAP_CONCURRENCY, (name) => fleet.invoke(name));
  const failure = firstFailure(outcomes);
  if (failure !== undefined)
    context.progress(`an active process did not answer: ${reason(failure)}`);
  return outcomes.filter((o) => o.status === "fulfilled").length;
}

/** Each active process's footprint: its process group, the cloud process and its workers. */
async function footprints(fleet: Fleet, names: string[]): Promise<Footprint[]> {
  const groups = await fleet.groups(names);
  const byGroup = groupFootprints(new Set(groups.values()));
  return [...groups.values()].flatMap((pgid) => byGroup.get(pgid) ?? []);
}

async function bareNodeFootprints(): Promise<Footprint[]> {
  const samples: Footprint[] = [];
  for (let i = 0; i < BARE_NODE_SAMPLES; i++) samples.push(await idleNodeFootprint());
  return samples;
}

const mib = (kib: number): number => kib / 1024;
const rssMiB = (list: Footprint[]): number[] => list.map((f) => mib(f.rssKiB));
const sumKiB = (list: Footprint[], key: "rssKiB" | "pssKiB"): number =>
  list.reduce((sum, f) => sum + f[key], 0);

function activeRow(
  plan: Plan,
  active: Active,
  answered: number,
  ours: Footprint[],
  bare: Footprint[],
): Row {
  const n = active.names.length;
  const extra = {
    target: plan.densityActive,
    active: n,
    answering: answered,
    "processes per group": median(ours.map((f) => f.processes)),
    "total RSS MiB": round(mib(sumKiB(ours, "rssKiB"))),
    "PSS per process MiB": round(median(ours.map((f) => mib(f.pssKiB)))),
    "total PSS MiB": round(mib(sumKiB(ours, "pssKiB"))),
    "bare node PSS MiB": round(median(bare.map((f) => mib(f.pssKiB)))),
    "available MiB": round(memoryAvailableBytes() / MIB),
  };
  const label = active.stoppedBy ? `${n} active (stopped: ${active.stoppedBy})` : `${n} active`;
  const metric = (list: Footprint[]): Metric =>
    metricOf(summarize(Float64Array.from(rssMiB(list))), "MiB");
  return makeRow({ active: n }, label, metric(ours), metric(bare), extra);
}

/** Swaps the active processes out through the API; resolves the names it swapped. */
async function swapAll(fleet: Fleet, names: string[]): Promise<string[]> {
  const outcomes = await inBatches(names, SWAP_CONCURRENCY, (name) => fleet.swap(name));
  const failure = firstFailure(outcomes);
  if (failure !== undefined) throw new Error(`a swap-out failed: ${reason(failure)}`);
  return names;
}

/** Copies of the first swapped process up to the plan's count; resolves every swapped name. */
async function addCopies(context: RunContext, fleet: Fleet, swapped: string[]): Promise<string[]> {
  const template = swapped[0];
  if (template === undefined) throw new Error("no process could be created and swapped out");
  const count = Math.max(0, context.plan.densitySwapped - swapped.length);
  const copies = Array.from({ length: count }, (_, i) => copyName(i));
  context.progress(`${swapped.length} swapped through the API; writing ${count} copies`);
  await fleet.cloneSwapped(template, copies);
  return [...swapped, ...copies];
}

interface Listing {
  ours: number[];
  bare: number[];
  bytes: number;
}

/** GET of `path` through the pool: the whole body, or an error for any status but 200. */
async function get(pool: Pool, path: string): Promise<Buffer> {
  const response = await pool.request({ method: "GET", path });
  const body = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200) throw new Error(`GET ${path}: HTTP ${response.statusCode}`);
  return body;
}

/** The listing, checked once, then timed alternately with a bare route sending its bytes. */
async function timeListing(context: RunContext, fleet: Fleet, swapped: number): Promise<Listing> {
  const path = `/apps/${fleet.app}/processes`;
  const pool = new Pool(fleet.plane.url, { connections: 1 });
  const body = await get(pool, path);
  const listed = (JSON.parse(body.toString()) as { swapped: unknown[] }).swapped.length;
  if (listed !== swapped) throw new Error(`listed ${listed} swapped processes of ${swapped}`);
  const bare = await startFastifyBody(body);
  const barePool = new Pool(bare.url, { connections: 1 });
  const listing: Listing = { ours: [], bare: [], bytes: body.length };
  try {
    await get(barePool, "/body");
    for (let i = 0; i < context.plan.densityListings; i++) {
      listing.ours.push(await timeOnce(() => get(pool, path)));
      listing.bare.push(await timeOnce(() => get(barePool, "/body")));
    }
  } finally {
    await Promise.all([pool.close(), barePool.close(), bare.stop()]);
  }
  return listing;
}

/** Every (count / sample)-th name, so that the sample spans the list. */
function spread(names: string[], sample: number): string[] {
  const step = Math.max(1, Math.floor(names.length / Math.max(1, sample)));
  return names.filter((_, i) => i % step === 0).slice(0, sample);
}

/** Resumes a sample, each then answering an invocation; resolves the durations of those that did. */
async function resumeSample(context: RunContext, fleet: Fleet, names: string[]): Promise<number[]> {
  const durations: number[] = [];
  for (const name of spread(names, context.plan.densityResumes)) {
    try {
      durations.push(
        await timeOnce(async () => {
          await fleet.resume(name);
          await fleet.invoke(name);
        }),
      );
    } catch (error) {
      context.progress(`${name} did not resume: ${reason(error)}`);
    }
  }
  return durations;
}

function listingRow(
  plan: Plan,
  swapped: { all: number; throughApi: number },
  listing: Listing,
  resumes: number[],
): Row {
  const extra = {
    target: plan.densitySwapped,
    swapped: swapped.all,
    "swapped through the API": swapped.throughApi,
    "listing MB": round(listing.bytes / 1e6, 2),
    resumed: Math.min(plan.densityResumes, swapped.all),
    resumable: resumes.length,
    "resume + first call ms": round(median(resumes) / 1000, 1),
  };
  const metric = (values: number[]): Metric => metricOf(summarize(Float64Array.from(values)), "ms");
  const row = makeRow(
    { swapped: swapped.all },
    `list ${swapped.all.toLocaleString("en-US")} swapped`,
    metric(listing.ours),
    metric(listing.bare),
    extra,
  );
  return { ...row, unit: "ms" };
}

function activeGoal(row: Row): ReturnType<Goal> {
  const { target = 0, active = 0, answering: answered = -1 } = row.extra ?? {};
  const allAnswer = answered === active;
  if (target < BAR.active)
    return { target: "each answering (fewer aimed at than the bar)", met: allAnswer };
  return { target: "≥ 200 active, each answering", met: active >= BAR.active && allAnswer };
}

function listingGoal(row: Row): ReturnType<Goal> {
  const { target = 0, swapped = 0, resumed = 0, resumable = -1 } = row.extra ?? {};
  const fast = row.ours.median < BAR.listingMs && resumable === resumed;
  if (target < BAR.swapped) return { target: "listed < 100 ms, each resumable", met: fast };
  const met = fast && swapped >= BAR.swapped;
  return { target: "≥ 10,000 swapped, listed < 100 ms, each resumable", met };
}

export const density: Experiment = {
  name: "density",
  title: "Density: active processes, their memory, and many swapped ones",
  ours: "processes of the echo app (1 vCPU = 1 worker, 128 MiB) created through an in-process control plane; RSS per process = the cloud process + its workers (its process group, /proc VmRSS); then `GET /apps/:app/processes` listing every swapped one",
  baseline:
    "RSS of a bare `node` TCP server that has answered once (same /proc reading); for the listing, a bare Fastify GET route sending the same bytes (undici, one keep-alive connection)",
  unit: "MiB",
  higherIsBetter: false,
  notes: [
    "Creating stops at the plan's count (200; --quick 20; --density-max N caps it), when the machine has less than an eighth of its memory (at least 2 GiB) available, or at a first failed create; the label says which.",
    "Swapped processes: the active ones are swapped out through the API; the rest (up to 10,000; --quick 200) are copies of the first one's record and snapshot blob, written through the same metadata and blob stores the control plane uses (creating and swapping 10,000 processes through the API would take hours on 2 cores).",
    "A sample spread over all swapped ones (both kinds) is resumed and invoked; `resumable` counts those that answered.",
    "Goals: ≥ 200 active, each answering; ≥ 10,000 swapped, listed in < 100 ms, each resumable.",
  ],
  goal: (row) => ("active" in row.params ? activeGoal(row) : listingGoal(row)),
  async run(context: RunContext) {
    const fleet = await Fleet.start(context.env);
    const active = await fillActive(context, fleet);
    context.progress(`${active.names.length} active; checking each answers`);
    const answered = await answering(context, fleet, active.names);
    const ours = await footprints(fleet, active.names);
    const rows = [activeRow(context.plan, active, answered, ours, await bareNodeFootprints())];
    context.progress("swapping them out");
    const throughApi = await swapAll(fleet, active.names);
    const swapped = await addCopies(context, fleet, throughApi);
    context.progress(`listing ${swapped.length} swapped processes`);
    const listing = await timeListing(context, fleet, swapped.length);
    const resumes = await resumeSample(context, fleet, swapped);
    const counts = { all: swapped.length, throughApi: throughApi.length };
    return [...rows, listingRow(context.plan, counts, listing, resumes)];
  },
};
