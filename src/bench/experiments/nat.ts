/**
 * 14–15. Processes behind NAT (src/bench/nat-site.ts; root, network namespaces): echo over a
 * punched and over a relayed connection, and the time to open each kind, each against a direct
 * connection from the same client in the same run. Skipped, saying why, where namespaces
 * cannot be built.
 */
import { makeRow, metricOf, type Experiment, type Row, type RunContext } from "../experiment.js";
import type { NatSite } from "../nat-site.js";
import { MIB } from "../plan.js";
import { summarize } from "../stats.js";
import { sweep } from "./shared.js";

/** The two settings: plain NATs (the punch works) and symmetric ones (the relay carries it). */
const PATHS = [
  { label: "punch", symmetric: false },
  { label: "relay", symmetric: true },
] as const;

const TOPOLOGY_NOTE =
  "Client in private network B behind a NAT router; the NAT'd process in private network A behind another (veths and iptables MASQUERADE in network namespaces); the direct baseline is a process in the public network, which the same client dials through its own NAT.";

/** Which path the rendezvous chose must be the one the row claims. */
async function expectOutcome(site: NatSite, label: "punch" | "relay"): Promise<void> {
  const outcomes = await site.outcomes();
  const other = label === "punch" ? "relayed" : "punched";
  if ((outcomes[other] ?? 0) > 0) {
    throw new Error(
      `${label} row: the rendezvous counted ${outcomes[other]} ${other} connection(s)`,
    );
  }
}

export const natDirect: Experiment = {
  name: "nat-direct",
  title: "Direct invocation (echo) behind NAT: punched and relayed connections",
  ours: 'SDK `ProcessConnection.invoke("echo")` to a process behind NAT, over a punched connection (plain NATs) or the relay (symmetric NATs)',
  baseline: "the same client's direct connection to a process in the public network, same run",
  unit: "µs",
  higherIsBetter: false,
  notes: [
    TOPOLOGY_NOTE,
    "The relay caps each direction of each relayed connection (16 MiB/s by default), which dominates at large payloads.",
    "Sizes up to 1 MiB.",
  ],
  goal: (row) =>
    row.label.startsWith("punch") ? { target: "≈ 1×", met: row.ratio <= 1.25 } : undefined,
  async run(context: RunContext) {
    const sizes = context.plan.sizes.filter((size) => size <= MIB);
    const rows: Row[] = [];
    for (const { label, symmetric } of PATHS) {
      const site = await context.env.natSite(symmetric);
      const measured = await sweep(context, sizes, {
        ours: (size, rounds, warmup) => site.echo("nat", size, rounds, warmup),
        baseline: (size, rounds, warmup) => site.echo("direct", size, rounds, warmup),
      });
      await expectOutcome(site, label);
      rows.push(...measured.map((row) => ({ ...row, label: `${label} · ${row.label}` })));
    }
    return rows;
  },
};

/** Opens `rounds` connections of each kind, alternating, after one untimed of each. */
async function connectRow(site: NatSite, label: string, rounds: number): Promise<Row> {
  await site.connect("nat", 0, 1);
  await site.connect("direct", 0, 1);
  const ours: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < rounds; i++) {
    ours.push(...(await site.connect("nat", 1, 0)));
    baseline.push(...(await site.connect("direct", 1, 0)));
  }
  const stats = (values: number[]) => metricOf(summarize(Float64Array.from(values)), "ms");
  return makeRow({}, label, stats(ours), stats(baseline));
}

export const natConnect: Experiment = {
  name: "nat-connect",
  title: "Opening a connection behind NAT: hole punching, relay fallback",
  ours: "`Process.connect()` to a process behind NAT: POST …/connect (fresh ticket), pairing at the rendezvous, punch (or, behind symmetric NATs, a failed punch then the relay), HELLO",
  baseline:
    "`Process.connect()` to a process in the public network (dial + HELLO), same client, same run",
  unit: "ms",
  higherIsBetter: false,
  notes: [
    TOPOLOGY_NOTE,
    "Relay fallback waits for the punch to give up first (2 s by default), then switches the rendezvous connection to relaying.",
  ],
  async run(context: RunContext) {
    const rows: Row[] = [];
    for (const { label, symmetric } of PATHS) {
      const site = await context.env.natSite(symmetric);
      context.progress(label);
      const name = label === "punch" ? "punch" : "relay fallback";
      rows.push(await connectRow(site, name, context.plan.coldStarts));
      await expectOutcome(site, label);
    }
    return rows;
  },
};
