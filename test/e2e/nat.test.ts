/**
 * Processes behind NAT, end to end (root only): `praas up` with a hosted rendezvous runs in the
 * public namespace of test/helpers/netns.ts and starts its processes in the private networks
 * (`--process-netns`, `--process-reach punch`); an SDK client runs behind the other NAT. The
 * client reaches its process by hole punching (the relay carries nothing), two processes in
 * different private networks message and invoke each other, and behind symmetric NATs the relay
 * carries the connection. The API token guards the tickets as it guards every route.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { testEnv } from "../helpers/praas-up.js";
import { makeTempDir } from "../helpers/process-harness.js";
import {
  PUBLIC_HOST,
  buildNatTopology,
  canBuildNamespaces,
  nextJsonLine,
  spawnNodeIn,
  type NatTopology,
} from "../helpers/netns.js";

const DIST = path.resolve("dist");
const CLIENT = path.resolve("test/fixtures/nat/client.mjs");
const APP = path.resolve("test/fixtures/apps/runtime-suite");
const TOKEN = "nat-test-api-token";
const LINE_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

interface Plane {
  url: string;
  child: ChildProcess;
}

/** `node args...` in a namespace (nsenter); killed after the test if still running. */
function spawnIn(namespace: string, args: string[], children: ChildProcess[]): ChildProcess {
  const child = spawnNodeIn(namespace, args, testEnv());
  children.push(child);
  return child;
}

/** `praas up` in the public namespace, placing processes in the two private networks. */
async function startPlane(
  topology: NatTopology,
  dataDir: string,
  children: ChildProcess[],
): Promise<Plane> {
  const ns = topology.namespaces;
  const child = spawnIn(
    ns.public,
    [
      path.join(DIST, "cli/main.js"),
      "up",
      ...["--host", PUBLIC_HOST, "--port", "0", "--control-port", "0"],
      ...["--advertise-host", PUBLIC_HOST, "--data-dir", dataDir, "--api-token", TOKEN],
      ...["--rendezvous", "0", "--rendezvous-host", PUBLIC_HOST, "--process-reach", "punch"],
      ...["--process-netns", `${ns.hostA},${ns.hostB}`, "--json", "--log-level", "warn"],
    ],
    children,
  );
  const { url } = await nextJsonLine<{ url: string }>(child, LINE_TIMEOUT_MS);
  return { url, child };
}

/** SIGTERM, so it stops every process it started in the namespaces; bounded. */
async function stopPlane(plane: Plane | undefined): Promise<void> {
  if (!plane || plane.child.exitCode !== null || plane.child.signalCode !== null) return;
  const exited = once(plane.child, "exit");
  plane.child.kill("SIGTERM");
  const timer = setTimeout(() => plane.child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Runs the SDK client fixture behind NAT B; its one JSON line. */
async function runClient<T>(context: Context, scenario: string): Promise<T> {
  const args = [CLIENT, DIST, context.plane.url, TOKEN, scenario, APP];
  const client = spawnIn(context.topology.namespaces.hostB, args, context.children);
  return nextJsonLine<T>(client, LINE_TIMEOUT_MS);
}

interface Context {
  topology: NatTopology;
  plane: Plane;
  children: ChildProcess[];
}

/** Cloud processes (runtime/main.js) running inside a namespace. */
function runtimesIn(namespace: string): string[] {
  const out = execFileSync("ip", ["netns", "pids", namespace], { encoding: "utf8" });
  const cmdline = (pid: string): string => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      return ""; // gone meanwhile
    }
  };
  return out
    .split("\n")
    .filter(Boolean)
    .map(cmdline)
    .filter((line) => line.includes("runtime/main.js"));
}

/** Runs `body` against a fresh topology and control plane; tears everything down after. */
async function withPlane(
  symmetric: boolean,
  body: (context: Context) => Promise<void>,
): Promise<void> {
  const topology = buildNatTopology({ symmetric });
  const temp = await makeTempDir("nat-e2e");
  const children: ChildProcess[] = [];
  let plane: Plane | undefined;
  try {
    plane = await startPlane(topology, temp.dir, children);
    await body({ topology, plane, children });
  } finally {
    await stopPlane(plane);
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    topology.destroy();
    await temp.remove();
  }
}

interface ClientReport {
  error?: string;
  path: string;
  rendezvous: { host: string; port: number };
  echoed: string;
  viaControlPlane: string;
  connections: Record<string, number>;
  noTokenStatus: number;
  metrics: Record<string, number>;
}

interface PeersReport {
  error?: string;
  received: string[];
  remote: string;
  back: string;
  metrics: Record<string, number>;
}

const RELAYED = 'praas_rendezvous_outcomes_total{outcome="relayed"}';
const PUNCHED = 'praas_rendezvous_outcomes_total{outcome="punched"}';
const RELAY_BYTES = "praas_rendezvous_relay_bytes_total";

describe.skipIf(!canBuildNamespaces())("processes behind NAT (praas up --rendezvous)", () => {
  it("a client behind another NAT connects by hole punching: the relay carries nothing", async () => {
    await withPlane(false, async (context) => {
      const report = await runClient<ClientReport>(context, "client");
      expect(report.error).toBeUndefined();
      expect(report).toMatchObject({
        path: "punch",
        rendezvous: { host: PUBLIC_HOST },
        echoed: "through two NATs",
        viaControlPlane: "via the control plane",
        connections: { direct: 0, punch: 1, relay: 0 },
        noTokenStatus: 401,
      });
      expect(report.metrics[PUNCHED]).toBe(1);
      expect(report.metrics[RELAYED]).toBe(0);
      expect(report.metrics[RELAY_BYTES]).toBe(0);
    });
  }, 120_000);

  it("two processes in different private networks exchange messages and invocations", async () => {
    await withPlane(false, async (context) => {
      const report = await runClient<PeersReport>(context, "peers");
      expect(report.error).toBeUndefined();
      expect(report.received).toEqual(["MESSAGE p1", "MESSAGE p2"]);
      expect([report.remote, report.back]).toEqual(["42", "8"]);
      // One process in each private network: their traffic crossed both NATs.
      expect(runtimesIn(context.topology.namespaces.hostA)).toHaveLength(1);
      expect(runtimesIn(context.topology.namespaces.hostB)).toHaveLength(1);
      // The two links between the processes and the client's to p1 cross both NATs directly
      // (the client's link to p2 behind its own NAT needs hairpinning, which it lacks: relayed).
      expect(report.metrics[PUNCHED]).toBeGreaterThanOrEqual(3);
    });
  }, 120_000);

  it("behind symmetric NATs the relay carries the connection and the call succeeds", async () => {
    await withPlane(true, async (context) => {
      const report = await runClient<ClientReport>(context, "client");
      expect(report.error).toBeUndefined();
      expect(report).toMatchObject({
        echoed: "through two NATs",
        connections: { punch: 0 },
      });
      expect(report.connections.relay).toBeGreaterThanOrEqual(1);
      expect(report.metrics[RELAYED]).toBeGreaterThanOrEqual(1);
      expect(report.metrics[RELAY_BYTES]).toBeGreaterThan(0);
    });
  }, 120_000);
});
