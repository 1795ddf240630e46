/**
 * Real NATs from network namespaces (root only): a "public" namespace that routes between two
 * NAT routers, and behind each router a private host. Shared by the NAT benchmark rows and the
 * NAT tests (test/helpers/netns.ts names the namespaces of a test run).
 *
 *   host-a 192.168.1.2 ── 192.168.1.1 router-a 10.77.1.2 ── 10.77.1.1 ┐
 *                                  (MASQUERADE)                      public (forwards;
 *   host-b 192.168.2.2 ── 192.168.2.1 router-b 10.77.2.2 ── 10.77.2.1 ┘  rendezvous here)
 *
 * The public namespace knows no route to 192.168.x: a private host is reachable only through
 * its router's NAT, which drops unsolicited inbound connections. `symmetric` adds
 * --random-fully (a new public port per connection), which defeats hole punching. Veths are
 * created straight inside their namespaces and every address lives in a namespace, so the root
 * namespace is never touched. Names carry the caller's prefix plus pid and a counter, so
 * concurrent runs and a crashed earlier run never collide. `destroy()` kills every process
 * still inside the namespaces and deletes them, which removes their veths and iptables rules.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import readline from "node:readline";

export const PUBLIC_HOST = "10.77.1.1";

export interface NatNamespaces {
  public: string;
  hostA: string;
  hostB: string;
  routerA: string;
  routerB: string;
}

export interface NatTopology {
  namespaces: NatNamespaces;
  /** Starts `node args...` inside a namespace; destroy() kills it if still running. */
  spawnNode(namespace: string, args: string[]): ChildProcess;
  destroy(): void;
}

export interface NatTopologyOptions {
  symmetric: boolean;
  /** Starts every namespace name (e.g. a test run's id), so leftovers can be found. */
  prefix: string;
}

let counter = 0;

/** Why namespaces cannot be built here (not root, no `ip` or `iptables`); undefined if they can. */
export function namespacesUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces, veths, iptables)";
  for (const [tool, flag] of [
    ["ip", "-V"],
    ["iptables", "--version"],
    ["nsenter", "--version"],
  ] as const) {
    try {
      execFileSync(tool, [flag], { stdio: "ignore" });
    } catch {
      return `\`${tool}\` is not installed`;
    }
  }
  return undefined;
}

function run(args: string[]): void {
  execFileSync(args[0] as string, args.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
}

function inside(namespace: string, args: string[]): void {
  run(["ip", "netns", "exec", namespace, ...args]);
}

function names(prefix: string): NatNamespaces {
  counter += 1;
  const base = `${prefix}${process.pid}-${counter}`;
  return {
    public: `${base}-pub`,
    routerA: `${base}-ra`,
    routerB: `${base}-rb`,
    hostA: `${base}-ha`,
    hostB: `${base}-hb`,
  };
}

function everyName(ns: NatNamespaces): string[] {
  return [ns.public, ns.routerA, ns.routerB, ns.hostA, ns.hostB];
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

function build(ns: NatNamespaces, symmetric: boolean): void {
  for (const name of everyName(ns)) {
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

/**
 * SIGKILL to whatever still runs inside the namespace (all of it was started for it): a process
 * left inside would keep the namespace, its veths and its rules alive after `ip netns del`.
 */
export function killInside(name: string): void {
  let listing: string;
  try {
    listing = execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" });
  } catch {
    return; // no such namespace
  }
  for (const pid of listing.split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // ended meanwhile
    }
  }
}

export function buildNatTopology(options: NatTopologyOptions): NatTopology {
  const ns = names(options.prefix);
  const children: ChildProcess[] = [];
  const destroy = (): void => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    for (const name of everyName(ns)) killInside(name);
    for (const name of everyName(ns)) deleteNamespace(name);
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

/**
 * `node args...` in a namespace, with nsenter, which switches only the network namespace
 * (`ip netns exec` also mounts a fresh /sys, without the cgroup tree the processes' memory
 * guard uses). The caller stops it.
 */
export function spawnNodeIn(
  namespace: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  const command = [`--net=/var/run/netns/${namespace}`, process.execPath, ...args];
  return spawn("nsenter", command, { stdio: ["pipe", "pipe", "inherit"], env });
}

/** The child's next stdout line as JSON; rejects once it exits first or `timeoutMs` passes. */
export function nextJsonLine<T>(child: ChildProcess, timeoutMs: number): Promise<T> {
  const lines = readline.createInterface({ input: child.stdout! });
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no line in time")), timeoutMs);
    const fail = (): void => reject(new Error(`exited with ${child.exitCode ?? "a signal"}`));
    child.once("exit", fail);
    lines.once("line", (line) => {
      clearTimeout(timer);
      child.off("exit", fail);
      lines.close();
      resolve(JSON.parse(line) as T);
    });
  });
}

/** Namespaces whose names start with `prefix` (for leak checks). */
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
