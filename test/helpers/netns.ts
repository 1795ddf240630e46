/**
 * Real NATs from network namespaces (root only): a "public" namespace that routes between two
 * NAT routers, and behind each router a private host.
 *
 *   host-a 192.168.1.2 ── 192.168.1.1 router-a 10.77.1.2 ── 10.77.1.1 ┐
 *                                  (MASQUERADE)                      public (forwards;
 *   host-b 192.168.2.2 ── 192.168.2.1 router-b 10.77.2.2 ── 10.77.2.1 ┘  rendezvous here)
 *
 * The public namespace knows no route to 192.168.x: a private host is reachable only through
 * its router's NAT, which drops unsolicited inbound connections. `symmetric` adds --random-fully (a new public port per connection), which
 * defeats hole punching. Veths are created straight inside their namespaces and every address
 * lives in a namespace, so the root namespace is never touched. Namespace names carry the test
 * run's id (test/global-setup.ts fails the run if one is left) plus pid and a counter, so
 * concurrent runs and a crashed earlier run never collide. `destroy()` kills the children it
 * started and deletes every namespace, which removes its veths and iptables rules with it.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";

export const PUBLIC_HOST = "10.77.1.1";

export interface NatTopology {
  namespaces: { public: string; hostA: string; hostB: string; routerA: string; routerB: string };
  /** Starts `node args...` inside a namespace; destroy() kills it if still running. */
  spawnNode(namespace: string, args: string[]): ChildProcess;
  destroy(): void;
}

let counter = 0;

/** Our namespaces of this test run: the prefix test/global-setup.ts checks at the end. */
export function namespacePrefix(runId = process.env.PRAAS_TEST_RUN ?? "norun"): string {
  return `praas-${runId}-`;
}

export function canBuildNamespaces(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("iptables", ["--version"], { stdio: "ignore" });
    execFileSync("ip", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function run(args: string[]): void {
  execFileSync(args[0] as string, args.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
}

function inside(namespace: string, args: string[]): void {
  run(["ip", "netns", "exec", namespace, ...args]);
}

function names(): NatTopology["namespaces"] {
  counter += 1;
  const base = `${namespacePrefix()}${process.pid}-${counter}`;
  return {
    public: `${base}-pub`,
    routerA: `${base}-ra`,
    routerB: `${base}-rb`,
    hostA: `${base}-ha`,
    hostB: `${base}-hb`,
  };
}

/** A veth pair with one end in each namespace, both up and addressed. */
function link(a: [string, string, string], b: [string, string, string]): void {
  const [nsA, ifA] = a;
  const [nsB, ifB] = b;
  run(["ip", "link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB]);
  for (const [ns, name, address] of [a, b]) {
    run(["ip", "-n", ns, "addr", "add", address, "dev", name]);
    run(["ip", "-n", ns, "link", "set", name, "up"]);
  }
}

function router(ns: string, gateway: string, symmetric: boolean): void {
  run(["ip", "-n", ns, "route", "add", "default", "via", gateway]);
  inside(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  const masquerade = ["-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"];
  inside(ns, ["iptables", ...masquerade, ...(symmetric ? ["--random-fully"] : [])]);
  // Like real NAT gateways, drop unsolicited inbound connections instead of answering them with
  // a reset: a reset to the first of two crossing SYNs leaves a conntrack entry that makes the
  // router re-map its own host's SYN to another port, and the punch can never work.
  const dropUnsolicited = ["-A", "INPUT", "-i", "wan", "-p", "tcp", "-m", "conntrack"];
  inside(ns, ["iptables", ...dropUnsolicited, "--ctstate", "NEW", "-j", "DROP"]);
}

function build(ns: NatTopology["namespaces"], symmetric: boolean): void {
  for (const name of Object.values(ns)) {
    run(["ip", "netns", "add", name]);
    run(["ip", "-n", name, "link", "set", "lo", "up"]);
  }
  link([ns.public, "to-a", "10.77.1.1/24"], [ns.routerA, "wan", "10.77.1.2/24"]);
  link([ns.public, "to-b", "10.77.2.1/24"], [ns.routerB, "wan", "10.77.2.2/24"]);
  link([ns.routerA, "lan", "192.168.1.1/24"], [ns.hostA, "eth0", "192.168.1.2/24"]);
  link([ns.routerB, "lan", "192.168.2.1/24"], [ns.hostB, "eth0", "192.168.2.2/24"]);
  inside(ns.public, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  router(ns.routerA, "10.77.1.1", symmetric);
  router(ns.routerB, "10.77.2.1", symmetric);
  run(["ip", "-n", ns.hostA, "route", "add", "default", "via", "192.168.1.1"]);
  run(["ip", "-n", ns.hostB, "route", "add", "default", "via", "192.168.2.1"]);
}

export function deleteNamespace(name: string): void {
  try {
    run(["ip", "netns", "del", name]);
  } catch {
    // never created, or already gone
  }
}

export function buildNatTopology(options: { symmetric: boolean }): NatTopology {
  const ns = names();
  const children: ChildProcess[] = [];
  const destroy = (): void => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    for (const name of Object.values(ns)) deleteNamespace(name);
  };
  try {
    build(ns, options.symmetric);
  } catch (error) {
    destroy();
    throw error;
  }
  const spawnNode = (namespace: string, args: string[]): ChildProcess => {
    const child = spawn("ip", ["netns", "exec", namespace, process.execPath, ...args], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    children.push(child);
    return child;
  };
  return { namespaces: ns, spawnNode, destroy };
}

/** Namespaces whose names start with `prefix` (ours, for the leak check). */
export function namespacesWithPrefix(prefix: string): string[] {
  let listing: string;
  try {
    listing = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  } catch {
    return [];
  }
  return listing
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(prefix));
}
