/**
 * The NAT rows' setting: the namespace topology of ./netns.ts, two control planes (`praas up`)
 * in its public namespace and a client (./nat-client.ts) in private network B. The "direct"
 * plane starts its processes beside itself, where the client dials them through its own NAT;
 * the "nat" plane hosts a rendezvous and starts its processes in private network A
 * (`--process-reach punch`), so the client pairs with them: by hole punching, or behind
 * symmetric NATs through the relay after the punch failed. `close()` stops the client and the
 * planes (their processes with them), kills anything left in the namespaces and deletes them.
 */
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import type { NatClientRequest } from "./nat-client.js";
import {
  PUBLIC_HOST,
  buildNatTopology,
  nextJsonLine,
  spawnNodeIn,
  type NatTopology,
} from "./netns.js";
import { stopChild } from "./stop-child.js";

export type NatPlane = "direct" | "nat";

const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const CLIENT = fileURLToPath(new URL("./nat-client.js", import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

export interface NatSiteOptions {
  symmetric: boolean;
  /** Holds the planes' data directories. */
  workDir: string;
  /** A deployable directory of the echo app. */
  app: string;
}

export class NatSite {
  readonly #topology: NatTopology;
  readonly #children: ChildProcess[] = [];
  #client: JsonLines | undefined;

  private constructor(topology: NatTopology) {
    this.#topology = topology;
  }

  /** Builds it all; on failure, everything already started is stopped again. */
  static async start(options: NatSiteOptions): Promise<NatSite> {
    const prefix = `praas-bench-${options.symmetric ? "sym" : "nat"}-`;
    const site = new NatSite(buildNatTopology({ symmetric: options.symmetric, prefix }));
    try {
      await site.#startAll(options);
      return site;
    } catch (error) {
      await site.close();
      throw error;
    }
  }

  /** Timed echo invocations (µs) on the open connection to the plane's process. */
  async echo(plane: NatPlane, size: number, rounds: number, warmup: number): Promise<Float64Array> {
    return decode(await this.#request({ op: "echo", plane, size, rounds, warmup }));
  }

  /** Times (µs) to open a connection to the plane's process (a NAT'd one: ticket + pairing). */
  async connect(plane: NatPlane, rounds: number, warmup: number): Promise<Float64Array> {
    return decode(await this.#request({ op: "connect", plane, rounds, warmup }));
  }

  /** The NAT plane's rendezvous outcome counters: punched, relayed, failed. */
  async outcomes(): Promise<Record<string, number>> {
    return (await this.#request({ op: "outcomes", plane: "nat" })) as Record<string, number>;
  }

  async close(): Promise<void> {
    this.#client?.child.stdin?.end();
    for (const child of this.#children.reverse()) await stopChild(child, STOP_TIMEOUT_MS);
    this.#topology.destroy();
  }

  async #startAll(options: NatSiteOptions): Promise<void> {
    const ns = this.#topology.namespaces;
    const site = options.symmetric ? "symmetric" : "plain";
    const dataDir = (plane: string): string => path.join(options.workDir, `nat-${site}-${plane}`);
    const natFlags = ["--rendezvous", "0", "--rendezvous-host", PUBLIC_HOST];
    const reach = ["--process-reach", "punch", "--process-netns", ns.hostA];
    const planes = {
      direct: await this.#startPlane(dataDir("direct"), []),
      nat: await this.#startPlane(dataDir("nat"), [...natFlags, ...reach]),
    };
    this.#client = new JsonLines(this.#spawn(ns.hostB, [CLIENT]));
    const { paths } = (await this.#request({ op: "deploy", planes, app: options.app })) as {
      paths: Record<string, string>;
    };
    if (paths.nat !== "punch") throw new Error(`the NAT plane's process says ${paths.nat}`);
  }

  async #startPlane(dataDir: string, extra: string[]): Promise<string> {
    const child = this.#spawn(this.#topology.namespaces.public, [
      CLI,
      "up",
      ...["--host", PUBLIC_HOST, "--port", "0", "--control-port", "0"],
      ...["--advertise-host", PUBLIC_HOST, "--data-dir", dataDir, ...extra],
      ...["--json", "--log-level", "warn", "--idle-swap", "0"],
    ]);
    const { url } = await nextJsonLine<{ url: string }>(child, START_TIMEOUT_MS);
    child.stdout?.resume(); // nothing more is read from it: never let the pipe fill
    return url;
  }

  #spawn(namespace: string, args: string[]): ChildProcess {
    const child = spawnNodeIn(namespace, args);
    this.#children.push(child);
    return child;
  }

  async #request(request: NatClientRequest): Promise<unknown> {
    if (this.#client === undefined) throw new Error("the NAT client is not running");
    return this.#client.request(request);
  }
}

/** One JSON request per line to a child, one reply per line back, in order. */
class JsonLines {
  readonly child: ChildProcess;
  readonly #replies: AsyncIterator<string>;

  constructor(child: ChildProcess) {
    this.child = child;
    this.#replies = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  async request(request: object): Promise<unknown> {
    this.child.stdin!.write(`${JSON.stringify(request)}\n`);
    const next = await this.#replies.next();
    if (next.done === true) throw new Error(`the NAT client ended (${this.child.exitCode})`);
    const reply = JSON.parse(next.value) as { ok?: unknown; error?: string };
    if (reply.error !== undefined) throw new Error(`NAT client: ${reply.error}`);
    return reply.ok;
  }
}

function decode(reply: unknown): Float64Array {
  const bytes = Buffer.from((reply as { samples: string }).samples, "base64");
  return new Float64Array(new Uint8Array(bytes).buffer);
}
