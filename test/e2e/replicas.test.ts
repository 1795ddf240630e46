// A replicated control plane as real processes: redis-server, HAProxy (HTTPS API frontend with
// the certificate from `praas certs`, a TCP frontend for control links) and two `praas up`
// replicas on one Redis. Any replica serves any request (each step is also forced through the
// replica that does NOT hold the process's control link), and SIGKILLing a replica while
// invocations flow costs only its in-flight requests: its processes re-register with the live
// replica (the time is printed), nothing acknowledged is lost, and the killed replica rejoins
// when restarted. Everything is stopped in afterAll.
import { readFile } from "node:fs/promises";
import https from "node:https";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS, type ProcessConnection } from "../../src/sdk/index.js";
import { RedisMetadataStore } from "../../src/storage/redis-metadata-store.js";
import { findHAProxy, startHAProxy, type RunningHAProxy } from "../helpers/haproxy.js";
import { makeTempDir, runProcessesMatching } from "../helpers/process-harness.js";
import { cli, freePort, portClosed, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { findRedisServer, startRedis, type RedisServer } from "../helpers/redis-server.js";

type ReplicaId = "r1" | "r2";
const IDS: readonly ReplicaId[] = ["r1", "r2"];
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");
const other = (id: ReplicaId): ReplicaId => (id === "r1" ? "r2" : "r1");

const skip =
  (findHAProxy() === undefined || findRedisServer() === undefined) &&
  process.env.PRAAS_ALLOW_SKIP === "1";

let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
let redis: RedisServer | undefined;
let proxy: RunningHAProxy | undefined;
let store: RedisMetadataStore | undefined;
const ports = new Map<ReplicaId, { httpPort: number; controlPort: number }>();
const replicas = new Map<ReplicaId, RunningPraaS>();
const clients: PraaS[] = [];
/** The CA `praas certs` made; the proxy serves HTTPS with its server certificate. */
let ca = "";

function client(url: string): PraaS {
  const made = new PraaS(url, url.startsWith("https:") ? { ca } : {});
  clients.push(made);
  return made;
}

let viaProxy: PraaS;
const via = new Map<ReplicaId, PraaS>();

async function startReplica(id: ReplicaId): Promise<void> {
  const { httpPort, controlPort } = ports.get(id)!;
  const replica = await startPraaS({
    dataDir: temp!.dir,
    redis: redis!.url,
    controlPort,
    extraArgs: [
      ...["--port", String(httpPort), "--replica-id", id],
      ...["--advertise-control", proxy!.controlAddress],
    ],
  });
  replicas.set(id, replica);
  via.set(id, client(replica.url));
}

/** Polls (bounded) until `check` holds; `what` names the event in the error. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Resolves once the proxy has routed API requests to every replica in `ids`. */
async function proxyServes(ids: readonly ReplicaId[]): Promise<void> {
  const seen = new Set<string>();
  await until(`the proxy routes to ${ids.join(", ")}`, async () => {
    const health = await healthThroughProxy().catch(() => undefined);
    if (health) seen.add(health.replica);
    return ids.every((id) => seen.has(id));
  });
}

/** GET /healthz through the proxy over HTTPS, trusting only the CA of `praas certs`. */
function healthThroughProxy(): Promise<{ replica: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(`${proxy!.url}/healthz`, { ca, agent: false }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => {
        if (response.statusCode !== 200) reject(new Error(`healthz: ${response.statusCode}`));
        else resolve(JSON.parse(body) as { replica: string });
      });
    });
    request.on("error", reject);
  });
}

/** The replica whose control link the process has, from the shared store. */
async function owner(app: string, name: string): Promise<ReplicaId> {
  const replica = (await store!.getProcess(app, name))?.replica;
  expect(IDS).toContain(replica);
  return replica as ReplicaId;
}

/** A client of the replica that does NOT hold the process's control link. */
async function nonOwner(app: string, name: string): Promise<PraaS> {
  return via.get(other(await owner(app, name)))!;
}

beforeAll(async () => {
  temp = await makeTempDir("e2e-replicas");
  redis = await startRedis();
  store = await RedisMetadataStore.open({ url: redis.url });
  for (const id of IDS)
    ports.set(id, { httpPort: await freePort(), controlPort: await freePort() });
  const certs = path.join(temp.dir, "certs");
  const made = await cli(["certs", "--out", certs]);
  if (made.code !== 0) throw new Error(`praas certs failed: ${made.stderr}`);
  ca = await readFile(path.join(certs, "ca.pem"), "utf8");
  proxy = await startHAProxy({
    apiPort: await freePort(),
    controlPort: await freePort(),
    replicas: IDS.map((name) => ({ name, ...ports.get(name)! })),
    tls: { cert: path.join(certs, "server.pem"), key: path.join(certs, "server-key.pem") },
  });
  viaProxy = client(proxy.url);
  for (const id of IDS) await startReplica(id);
  await proxyServes(IDS);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await Promise.allSettled([...replicas.values()].map((replica) => replica.stop()));
  await proxy?.stop();
  // Processes of a SIGKILLed replica that nobody stopped would wait minutes for a control plane.
  if (temp) for (const pid of runProcessesMatching(temp.dir)) process.kill(pid, "SIGKILL");
  await store?.close();
  await redis?.stop();
  await temp?.remove();
}, 120_000);

describe.skipIf(skip)("replicated control plane behind HAProxy", { timeout: 180_000 }, () => {
  it("serves every request through any replica: invoke, swap, resume, message, delete", async () => {
    await viaProxy.deploy("counter", "examples/counter");
    await via.get("r2")!.deploy("ping-pong", "examples/ping-pong");
    await viaProxy.createProcess("counter", "a");
    await via.get("r1")!.createProcess("counter", "b");
    await via.get("r2")!.createProcess("counter", "c");
    for (const name of ["a", "b", "c"]) {
      // Sticky through the proxy and through each replica, then direct.
      expect(text(await viaProxy.invoke("counter", "add", "1", { process: name }))).toBe("1");
      expect(text(await via.get("r1")!.invoke("counter", "add", "1", { process: name }))).toBe("2");
      expect(text(await via.get("r2")!.invoke("counter", "add", "1", { process: name }))).toBe("3");
      const conn = await (
        await (await nonOwner("counter", name)).getProcess("counter", name)
      ).connect();
      try {
        expect(text(await conn.invoke("add", "1"))).toBe("4");
      } finally {
        await conn.close();
      }
      // Swap and resume, each through the replica without the link.
      const swapped = await (await nonOwner("counter", name)).swap("counter", name);
      expect(swapped.status).toBe("swapped");
      await via.get(name === "b" ? "r2" : "r1")!.resume("counter", name);
      expect((await (await nonOwner("counter", name)).swap("counter", name)).status).toBe(
        "swapped",
      );
      const resumed = await via.get(name === "b" ? "r1" : "r2")!.resume("counter", name);
      expect(resumed.status).toBe("active");
      const after = await (
        await nonOwner("counter", name)
      ).invoke("counter", "add", "1", {
        process: name,
      });
      expect(text(after)).toBe("5");
    }

    // Messages between processes, the peer swapped first: the replica holding the sender's
    // link resumes it, wherever the resumed peer's link lands.
    await viaProxy.createProcess("ping-pong", "ping");
    await viaProxy.createProcess("ping-pong", "pong");
    await (await nonOwner("ping-pong", "pong")).swap("ping-pong", "pong");
    const played = JSON.parse(
      text(
        await (
          await nonOwner("ping-pong", "ping")
        ).invoke("ping-pong", "ping", JSON.stringify({ peer: "pong", rounds: 3 }), {
          process: "ping",
        }),
      ),
    ) as { last: string; peerSays: string };
    expect(played).toMatchObject({ last: "pong 2", peerSays: "served 3" });

    // Delete through the replica without the link: the process is stopped over its link.
    for (const [app, name] of [
      ["counter", "a"],
      ["counter", "b"],
      ["counter", "c"],
      ["ping-pong", "ping"],
      ["ping-pong", "pong"],
    ] as const) {
      const info = (await viaProxy.getProcess(app, name)).info;
      await (await nonOwner(app, name)).deleteProcess(app, name);
      await expect(viaProxy.getProcess(app, name)).rejects.toMatchObject({
        code: "PROCESS_NOT_FOUND",
      });
      expect(await portClosed(info.connection!.host, info.connection!.port)).toBe(true);
    }
  });

  it("loses only in-flight requests when a replica is SIGKILLed, and the replica rejoins", async () => {
    const names = ["k0", "k1", "k2", "k3"];
    for (const name of names) await viaProxy.createProcess("counter", name);
    const owners = await Promise.all(names.map((name) => owner("counter", name)));
    // The victim is a replica holding links (the proxy spreads them; take the busier one).
    const victim: ReplicaId =
      owners.filter((o) => o === "r1").length >= owners.filter((o) => o === "r2").length
        ? "r1"
        : "r2";
    const survivor = other(victim);
    const moving = names.filter((_, i) => owners[i] === victim);
    expect(moving.length).toBeGreaterThan(0);

    const load = startLoad(names);
    let goneAt = Number.POSITIVE_INFINITY;
    try {
      await until("load is flowing", () => Promise.resolve(load.acknowledged() >= 40));
      const killedAt = Date.now();
      await replicas.get(victim)!.kill();
      goneAt = load.sent(); // the replica has exited: later requests must all succeed
      replicas.delete(victim);
      await until(`the processes of ${victim} register with ${survivor}`, async () => {
        const records = await Promise.all(moving.map((name) => store!.getProcess("counter", name)));
        return records.every((r) => r?.status === "active" && r.replica === survivor);
      });
      const reconnectMs = Date.now() - killedAt;
      console.log(
        `replica ${victim} SIGKILLed: its ${moving.length} processes registered with ${survivor} after ${reconnectMs} ms`,
      );
      // Invocations go on through the proxy after the kill.
      const before = load.acknowledged();
      await until("load flows again", () => Promise.resolve(load.acknowledged() >= before + 40));
    } finally {
      await load.stop();
    }
    console.log(
      `during the kill: ${load.acknowledged()} invocations acknowledged, ${load.failures.length} failed: ${load.failures.map((f) => f.error).join("; ")}`,
    );
    // Only requests sent while the replica was alive or dying failed (in flight at it, or
    // accepted by its kernel before it exited); none sent after it was gone. Direct
    // invocations never touch a replica.
    expect(load.failures.every((f) => f.seq < goneAt)).toBe(true);
    expect(load.failures.every((f) => f.via === "proxy")).toBe(true);

    // Nothing acknowledged is lost; a failed request may or may not have been applied.
    const live = via.get(survivor)!;
    expect((await live.listApplications()).map((a) => a.name)).toContain("counter");
    for (const name of names) {
      expect((await live.getProcess("counter", name)).status).toBe("active");
      const value = Number(text(await live.invoke("counter", "get", "", { process: name })));
      const failed = load.failures.filter((f) => f.name === name).length;
      expect(value).toBeGreaterThanOrEqual(load.acked.get(name) ?? 0);
      expect(value).toBeLessThanOrEqual((load.acked.get(name) ?? 0) + failed);
    }

    // The killed replica restarts and serves again, including commands for links it lacks.
    await startReplica(victim);
    await proxyServes([victim]);
    const back = via.get(victim)!;
    expect(text(await back.invoke("counter", "add", "1", { process: "k0" }))).toBeTruthy();
    const forwarded = names.find(() => true)!;
    expect(await owner("counter", forwarded)).toBe(survivor);
    expect((await back.swap("counter", forwarded)).status).toBe("swapped");
    expect((await back.resume("counter", forwarded)).status).toBe("active");
    await back.createProcess("counter", "rejoined");
    expect(text(await back.invoke("counter", "add", "2", { process: "rejoined" }))).toBe("2");
    for (const name of [...names, "rejoined"]) await back.deleteProcess("counter", name);
  });
});

const STICKY_WORKERS = 4;

interface Load {
  acked: Map<string, number>;
  /** `seq`: the request's place in the order requests were sent. */
  failures: { name: string; via: "proxy" | "direct"; error: string; seq: number }[];
  acknowledged(): number;
  /** How many requests have been sent so far. */
  sent(): number;
  stop(): Promise<void>;
}

/**
 * Sticky invocations through the proxy (STICKY_WORKERS loops) and direct ones (one loop over
 * data-plane connections), each adding 1 to a counter and counting what was acknowledged.
 */
function startLoad(names: string[]): Load {
  let running = true;
  let total = 0;
  let sent = 0;
  const acked = new Map<string, number>();
  const failures: Load["failures"] = [];
  const ack = (name: string): void => {
    acked.set(name, (acked.get(name) ?? 0) + 1);
    total++;
  };
  const sticky = async (worker: number): Promise<void> => {
    for (let i = worker; running; i++) {
      const name = names[i % names.length]!;
      const seq = sent++;
      try {
        await viaProxy.invoke("counter", "add", "1", { process: name });
        ack(name);
      } catch (error) {
        failures.push({ name, via: "proxy", error: String(error), seq });
      }
    }
  };
  const direct = async (): Promise<void> => {
    const connections: ProcessConnection[] = [];
    try {
      for (const name of names)
        connections.push(await (await viaProxy.getProcess("counter", name)).connect());
      for (let i = 0; running; i++) {
        const name = names[i % names.length]!;
        const seq = sent++;
        try {
          await connections[i % names.length]!.invoke("add", "1");
          ack(name);
        } catch (error) {
          failures.push({ name, via: "direct", error: String(error), seq });
        }
      }
    } finally {
      await Promise.allSettled(connections.map((c) => c.close()));
    }
  };
  const loops = [
    ...Array.from({ length: STICKY_WORKERS }, (_, worker) => sticky(worker)),
    direct(),
  ];
  return {
    acked,
    failures,
    acknowledged: () => total,
    sent: () => sent,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
