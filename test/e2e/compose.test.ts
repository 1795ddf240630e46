// The compose stacks in deploy/: both files validate with Debian's docker-compose (v1) and wire
// the NAT rendezvous (published port, one secret file for it and both replicas), and the
// development stack comes up for real (Redis, two control-plane replicas with the docker backend,
// the rendezvous, HAProxy with the certificate from `praas certs`), serves an app through HAProxy
// over HTTPS and over a process's own data plane, pairs two parties at the published rendezvous
// with tickets signed by the shared secret, and goes away leaving no container, network or volume.
// Skipped, with the reason, without docker-compose, a Docker engine or the local images.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { request } from "node:https";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import {
  LOCAL_HAPROXY_IMAGE,
  LOCAL_REDIS_IMAGE,
  labelOf,
} from "../../src/backends/docker/index.js";
import { issueTicket, type RendezvousRole } from "../../src/protocol/index.js";
import { pairAndConnect, type PairedConnection } from "../../src/rendezvous/index.js";
import { PraaS } from "../../src/sdk/index.js";
import { docker, dockerSkipReason, testControlPlaneId, within } from "../helpers/docker.js";
import { makeTempDir, text } from "../helpers/process-harness.js";
import { testEnv } from "../helpers/praas-up.js";

const run = promisify(execFile);
const COMPOSE = "docker-compose";
const FILES = ["deploy/docker-compose.yml", "deploy/docker-compose-dev.yml"];
const DEV = "deploy/docker-compose-dev.yml";
/** Both replicas answering /healthz through HAProxy: startup of four containers on a busy host. */
const STACK_READY_MS = 90_000;
const CONTAINER_GONE_MS = 20_000;
const PAIRED_DATA_MS = 10_000;

const composeMissing = await run(COMPOSE, ["version"]).then(
  () => undefined,
  () => `no ${COMPOSE} (apt-get install docker-compose)`,
);

describe.skipIf(composeMissing !== undefined)("compose files", () => {
  it.each(FILES)("%s is valid for docker-compose with its five services", async (file) => {
    const services = await compose(["-f", file, "config", "--services"], {});
    expect(services.trim().split("\n").sort()).toEqual([
      "haproxy",
      "redis",
      "rendezvous",
      "replica1",
      "replica2",
    ]);
  });

  it.each(FILES)(
    "%s publishes the rendezvous and gives it and both replicas one secret file",
    async (file) => {
      const env = {
        PRAAS_RENDEZVOUS_SECRET_FILE: "/etc/praas/rendezvous-secret",
        PRAAS_RENDEZVOUS_PORT: "7123",
        PRAAS_RENDEZVOUS_PUBLIC: "203.0.113.7:7123",
      };
      const config = await compose(["-f", file, "config"], env);
      expect(topLevel(config, "secrets")).toContain(
        "rendezvous_secret:\n    file: /etc/praas/rendezvous-secret",
      );
      const rendezvous = serviceBlock(config, "rendezvous");
      for (const line of ["- rendezvous", "- --port=7000", `- --secret-file=${SECRET_PATH}`])
        expect(rendezvous).toContain(line);
      expect(rendezvous).toMatch(/- published: 7123\n\s+target: 7000/);
      expect(rendezvous).toContain("- source: rendezvous_secret");
      for (const replica of ["replica1", "replica2"]) {
        const block = serviceBlock(config, replica);
        expect(block).toContain("- --rendezvous-url=203.0.113.7:7123");
        expect(block).toContain(`- --rendezvous-secret-file=${SECRET_PATH}`);
        expect(block).toContain("- source: rendezvous_secret");
      }
    },
  );
});

/** Where compose mounts the `rendezvous_secret` secret inside a container. */
const SECRET_PATH = "/run/secrets/rendezvous_secret";

/** The lines of one service in `docker-compose config` output (services indented by two). */
function serviceBlock(config: string, service: string): string {
  return indentedBlock(config.slice(config.indexOf("\nservices:\n")), `  ${service}:`);
}

/** A top-level key of `docker-compose config` output with its nested lines. */
function topLevel(config: string, key: string): string {
  return indentedBlock(`\n${config}`, `${key}:`);
}

/** From the line `header` to the next line indented no deeper than it. */
function indentedBlock(text: string, header: string): string {
  const lines = text.slice(text.indexOf(`\n${header}\n`) + 1).split("\n");
  const depth = header.length - header.trimStart().length;
  const end = lines.findIndex((line, i) => i > 0 && line.search(/\S/) <= depth && line !== "");
  return lines.slice(0, end === -1 ? undefined : end).join("\n");
}

const stackSkip = composeMissing ?? (await dockerSkipReason()) ?? (await localImagesMissing());

describe.skipIf(stackSkip !== undefined)("the development stack on Docker", () => {
  it("serves an app through HAProxy and directly, pairs at the rendezvous, then leaves nothing", async () => {
    const temp = await makeTempDir("compose");
    const stack = await stackNames(temp.dir);
    try {
      await run(process.execPath, ["dist/cli/main.js", "certs", "--out", stack.certs]);
      await compose(["-p", stack.project, "-f", DEV, "up", "-d"], stack.env);
      const ca = await readFile(path.join(stack.certs, "ca.pem"));
      await scenario(await proxyUrl(stack), ca, stack.planes);
      await pairAtRendezvous(await publishedPort(stack, "rendezvous", 7000), stack.secret);
    } finally {
      await takeDown(stack).finally(() => temp.remove());
    }
    expect(await leftovers(stack)).toEqual([]);
  }, 240_000);
});

interface Stack {
  project: string;
  network: string;
  /** The replicas' control-plane ids (their process containers' label). */
  planes: string[];
  certs: string;
  /** Written to the file the rendezvous and the replicas share. */
  secret: string;
  env: Record<string, string>;
}

async function stackNames(dir: string): Promise<Stack> {
  const stackId = testControlPlaneId("compose");
  // Compose project names: lower-case letters, digits, - and _.
  const project = stackId.toLowerCase().replace(/[^a-z0-9_-]/g, "");
  const certs = path.join(dir, "certs");
  const network = `${project}-net`;
  const secret = randomBytes(24).toString("base64url");
  const secretFile = path.join(dir, "rendezvous-secret");
  await writeFile(secretFile, `${secret}\n`);
  return {
    project,
    network,
    planes: [`${stackId}-r1`, `${stackId}-r2`],
    certs,
    secret,
    env: {
      SECRET_CERT: path.join(certs, "server.pem"),
      SECRET_KEY: path.join(certs, "server-key.pem"),
      PRAAS_HTTPS_PORT: "0",
      PRAAS_NETWORK: network,
      PRAAS_STACK: stackId,
      PRAAS_DATA_DIR: path.join(dir, "data"),
      REDIS_IMAGE: LOCAL_REDIS_IMAGE,
      HAPROXY_IMAGE: LOCAL_HAPROXY_IMAGE,
      PRAAS_RENDEZVOUS_SECRET_FILE: secretFile,
      PRAAS_RENDEZVOUS_PORT: "0",
    },
  };
}

/** Deploy, create, invoke through the proxy (any replica), then on the process's data plane. */
async function scenario(url: string, ca: Buffer, planes: string[]): Promise<void> {
  await untilBothReplicasHealthy(url, ca);
  const client = new PraaS(url, { ca });
  try {
    await client.deploy("counter", "examples/counter");
    const created = await client.createProcess("counter", "c1");
    expect(text(await client.invoke("counter", "add", "2", { process: "c1" }))).toBe("2");
    // Round robin (or a kept-alive connection) sends both creates to one replica, while HAProxy
    // (leastconn) puts the two control links on different replicas: one process registers with
    // the replica that did not start its container.
    await client.createProcess("counter", "c2");
    expect(text(await client.invoke("counter", "add", "7", { process: "c2" }))).toBe("7");
    expect(text(await client.invoke("counter", "add", "3", { process: "c1" }))).toBe("5");
    const direct = await created.connect();
    try {
      expect(text(await direct.invoke("get"))).toBe("5");
    } finally {
      await direct.close();
    }
    for (const name of ["c1", "c2"]) await deleteAndWaitRemoved(client, name, planes);
  } finally {
    await client.close();
  }
}

/** Deleting the process before `down` lets the network go (no container left attached). */
async function deleteAndWaitRemoved(client: PraaS, name: string, planes: string[]): Promise<void> {
  const found = await docker.listContainers({
    filters: { label: ["praas.app=counter", `praas.process=${name}`] },
  });
  const container = found.find((info) => planes.includes(info.Labels["praas.control-plane"] ?? ""));
  expect(container).toBeDefined();
  const removed = docker.getContainer(container!.Id).wait({ condition: "removed" });
  await client.deleteProcess("counter", name);
  await within(removed, CONTAINER_GONE_MS, "the deleted process's container was not removed");
}

async function proxyUrl(stack: Stack): Promise<string> {
  return `https://localhost:${await publishedPort(stack, "haproxy", 8443)}`;
}

async function publishedPort(stack: Stack, service: string, port: number): Promise<number> {
  const args = ["-p", stack.project, "-f", DEV, "port", service, String(port)];
  return Number((await compose(args, stack.env)).trim().split(":").pop());
}

/**
 * A listener and a dialer pair at the stack's published rendezvous with tickets signed by the
 * shared secret file, and bytes cross their connection (punched or relayed, both count here).
 */
async function pairAtRendezvous(port: number, secret: string): Promise<void> {
  const pairingId = randomBytes(9).toString("base64url");
  const party = (role: RendezvousRole): Promise<PairedConnection> => {
    const ticket = issueTicket(secret, { pairingId, role, expiresAt: Date.now() + 60_000 });
    return pairAndConnect({ rendezvous: { host: "127.0.0.1", port }, ticket });
  };
  const [listener, dialer] = await Promise.all([party("listener"), party("dialer")]);
  try {
    const arrived = new Promise<Buffer>((resolve) => listener.socket.once("data", resolve));
    dialer.socket.write("across the rendezvous");
    const received = await within(arrived, PAIRED_DATA_MS, "no bytes across the rendezvous");
    expect(received.toString()).toBe("across the rendezvous");
  } finally {
    listener.socket.destroy();
    dialer.socket.destroy();
  }
}

/** Polls /healthz through HAProxy until both replicas have answered, within STACK_READY_MS. */
async function untilBothReplicasHealthy(url: string, ca: Buffer): Promise<void> {
  const seen = new Set<string>();
  const deadline = Date.now() + STACK_READY_MS;
  while (seen.size < 2) {
    if (Date.now() > deadline)
      throw new Error(`replicas healthy through HAProxy: only [${[...seen].join(", ")}]`);
    const health = await getJson(`${url}/healthz`, ca).catch(() => undefined);
    if (health?.status === "ok" && typeof health.replica === "string") seen.add(health.replica);
    else await new Promise((resolve) => setTimeout(resolve, 250)); // the stack is starting
  }
}

function getJson(url: string, ca: Buffer): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        else resolve(JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>);
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** `down -v`, then whatever is still there removed by force (so a failure leaks nothing). */
async function takeDown(stack: Stack): Promise<void> {
  const down = ["-p", stack.project, "-f", DEV, "down", "-v", "--timeout", "20"];
  await compose(down, stack.env).catch((error: unknown) => {
    process.stderr.write(`compose down failed: ${String(error)}\n`);
  });
  for (const id of await leftoverContainers(stack))
    await docker
      .getContainer(id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
}

/** Containers, networks and volumes of the stack still there after `down`. */
async function leftovers(stack: Stack): Promise<string[]> {
  const networks = await docker.listNetworks({ filters: { name: [stack.network] } });
  const volumes = await docker.listVolumes({
    filters: { label: [`com.docker.compose.project=${stack.project}`] },
  });
  return [
    ...(await leftoverContainers(stack)).map((id) => `container ${id}`),
    ...networks.filter((n) => n.Name === stack.network).map((n) => `network ${n.Name}`),
    ...(volumes.Volumes ?? []).map((v) => `volume ${v.Name}`),
  ];
}

async function leftoverContainers(stack: Stack): Promise<string[]> {
  const labels = [
    `com.docker.compose.project=${stack.project}`,
    ...stack.planes.map((plane) => `praas.control-plane=${plane}`),
  ];
  const found = await Promise.all(
    labels.map((label) => docker.listContainers({ all: true, filters: { label: [label] } })),
  );
  return [...new Set(found.flat().map((info) => info.Id))];
}

async function compose(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await run(COMPOSE, args, { env: testEnv(env), timeout: 120_000 });
  return stdout;
}

async function localImagesMissing(): Promise<string | undefined> {
  for (const image of [LOCAL_REDIS_IMAGE, LOCAL_HAPROXY_IMAGE]) {
    if ((await labelOf(docker, image, "praas.binary-hash")) === undefined)
      return `no ${image} (praas images build --local-base, with redis-server and haproxy installed)`;
  }
  return existsSync("dist/cli/main.js") ? undefined : "no dist/ build";
}
