/**
 * A real HAProxy in front of control-plane replicas on loopback, configured the way
 * deploy/haproxy/haproxy.cfg configures the deployment: an HTTP(S) frontend balancing requests
 * over the replicas (health-checked on /healthz) and a TCP frontend for control links, so a
 * process whose replica dies re-dials a live one. Runs in the foreground (`-db`) as a child of
 * the test; `stop()` ends it and removes its config.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface ReplicaPorts {
  name: string;
  httpPort: number;
  controlPort: number;
}

export interface HAProxyOptions {
  /** The port of the API frontend (HTTP, or HTTPS with `tls`). */
  apiPort: number;
  /** The port of the TCP frontend processes dial for their control link. */
  controlPort: number;
  replicas: ReplicaPorts[];
  /** Terminate TLS on the API frontend with this certificate and key (PEM files). */
  tls?: { cert: string; key: string };
}

export interface RunningHAProxy {
  /** The API through the proxy. */
  url: string;
  /** HOST:PORT of the control-link frontend (what replicas advertise to processes). */
  controlAddress: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

/** The haproxy binary (apt installs it under /usr/sbin), or undefined. */
export function findHAProxy(): string | undefined {
  for (const candidate of ["haproxy", "/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]) {
    if (spawnSync(candidate, ["-v"], { stdio: "ignore" }).status === 0) return candidate;
  }
  return undefined;
}

/** The configuration for `options`: deploy/haproxy/haproxy.cfg with loopback addresses. */
export function haproxyConfig(options: HAProxyOptions, certBundle?: string): string {
  const ssl = certBundle ? ` ssl crt ${certBundle}` : "";
  const servers = (port: (r: ReplicaPorts) => number, extra: string) =>
    options.replicas.map((r) => `  server ${r.name} 127.0.0.1:${port(r)} check${extra}`).join("\n");
  return `global
  maxconn 4096

defaults
  timeout connect 2s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  retries 3
  option redispatch 1
  default-server inter 300ms fall 2 rise 1

frontend api
  mode http
  bind 127.0.0.1:${options.apiPort}${ssl}
  default_backend replicas

backend replicas
  mode http
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
${servers((r) => r.httpPort, "")}

frontend control_links
  mode tcp
  bind 127.0.0.1:${options.controlPort}
  default_backend control_planes

backend control_planes
  mode tcp
  balance leastconn
${servers((r) => r.controlPort, "")}
`;
}

export async function startHAProxy(options: HAProxyOptions): Promise<RunningHAProxy> {
  const binary = findHAProxy();
  if (!binary) throw new Error("haproxy is not installed (apt-get install -y haproxy)");
  const dir = await mkdtemp(path.join(os.tmpdir(), "praas-haproxy-"));
  const bundle = options.tls ? path.join(dir, "api.pem") : undefined;
  if (options.tls && bundle) {
    // HAProxy wants the certificate and its key in one file.
    const pem = `${await readFile(options.tls.cert, "utf8")}\n${await readFile(options.tls.key, "utf8")}`;
    await writeFile(bundle, pem, { mode: 0o600 });
  }
  const config = path.join(dir, "haproxy.cfg");
  await writeFile(config, haproxyConfig(options, bundle));
  const child = spawn(binary, ["-db", "-f", config], { stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = () => stopHAProxy(child, exited, dir);
  try {
    await Promise.race([
      listening(options.apiPort).then(() => listening(options.controlPort)),
      exited.then(() => Promise.reject(new Error("haproxy exited at start"))),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  const scheme = options.tls ? "https" : "http";
  return {
    url: `${scheme}://127.0.0.1:${options.apiPort}`,
    controlAddress: `127.0.0.1:${options.controlPort}`,
    stop,
  };
}

async function stopHAProxy(child: ChildProcess, exited: Promise<void>, dir: string) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  await rm(dir, { recursive: true, force: true });
}

/** Resolves once something accepts connections on the loopback port (bounded). */
async function listening(port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
