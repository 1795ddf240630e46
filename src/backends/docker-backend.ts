/**
 * The docker backend: one container per cloud process, from the `praas-runtime` image (one
 * image for every application: the process fetches its bundle from the control plane over the
 * control link, never from a bind mount).
 *
 * - Resources: `vcpus` → NanoCpus (and as many workers), `memory` → the container's memory
 *   limit (swap included) as well as the runtime's own `--memory`.
 * - Labels `praas.app`, `praas.process`, `praas.control-plane` (this replica's id) find the
 *   containers again after a control-plane restart: running ones are adopted, and those whose
 *   process does not re-register within `adoptGraceMs` are removed, as are exited ones.
 * - The data plane (port 7000 in the container) is published on a host port Docker chooses;
 *   clients and peers reach the process at `advertiseHost:<that port>` (reachableAt).
 * - Swapped state: the disk blob store's root is bound at the same path (state, not code), or
 *   S3 (its endpoint must be reachable from containers). A durable process keeps its write-ahead
 *   log on a volume of its own, `praas-wal-<app>-<process>`, kept across swaps and restarts and
 *   removed by deleteLog.
 * - Exits come from Docker's `die` events; every container is removed once it has exited.
 *   The container's stderr (the runtime's log) is copied to this process's stderr.
 */
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import { createInterface } from "node:readline";
import type Docker from "dockerode";
import { PraaSError } from "../protocol/index.js";
import {
  parseReady,
  runtimeArgs,
  runtimeEnv,
  startFailure,
  type ReadyLine,
} from "../runtime/launch.js";
import type { BlobStoreConfig } from "../storage/index.js";
import {
  launchOptionsOf,
  type ExitInfo,
  type ProcessBackend,
  type ProcessSpec,
  type StartedProcess,
} from "./backend.js";
import { RUNTIME_IMAGE } from "./docker/images.js";

const DATA_PORT = "7000/tcp";
const WAL_DIR = "/var/lib/praas/wal";
const LABEL = { app: "praas.app", process: "praas.process", plane: "praas.control-plane" };

export interface DockerBackendOptions {
  docker: Docker;
  /** Default `praas-runtime:latest`. */
  image?: string;
  /** This control plane's id, in every container's `praas.control-plane` label. */
  controlPlaneId: string;
  /** Where clients and peers reach published ports (e.g. the docker0 gateway, or a host IP). */
  advertiseHost: string;
  /** Swapped state; a disk store's root is bound into every container at the same path. */
  blobs: BlobStoreConfig;
  /** Containers found at start that do not re-register within this are removed; default 30 s. */
  adoptGraceMs?: number;
  /**
   * The Docker network containers join (default: Docker's bridge), e.g. a compose stack's, so
   * that they dial the control link by a service name there.
   */
  network?: string;
  /** More labels on every container (tests mark their run). */
  labels?: Record<string, string>;
  readyTimeoutMs?: number;
  logLevel?: string;
}

interface Tracked {
  app: string;
  name: string;
  /** Undefined while starting: a start that fails reports no exit. */
  running: boolean;
  port?: number;
  exited: Promise<void>;
  markExited(): void;
  /** Adopted after a restart and not yet re-registered. */
  unclaimed?: boolean;
}

export class DockerBackend implements ProcessBackend {
  readonly kind = "docker";
  readonly #options: DockerBackendOptions;
  readonly #docker: Docker;
  readonly #containers = new Map<string, Tracked>();
  readonly #listeners: ((exit: ExitInfo) => void)[] = [];
  #events: Promise<NodeJS.ReadableStream> | undefined;
  #adoptTimer: NodeJS.Timeout | undefined;
  #watching: NodeJS.ReadableStream | undefined;

  constructor(options: DockerBackendOptions) {
    this.#options = options;
    this.#docker = options.docker;
  }

  /**
   * Takes back this control plane's containers after a restart: exited ones are removed,
   * running ones tracked until they re-register, or removed after `adoptGraceMs`.
   */
  async adopt(): Promise<void> {
    await this.#watchEvents();
    const found = await this.#docker.listContainers({
      all: true,
      filters: { label: [`${LABEL.plane}=${this.#options.controlPlaneId}`] },
    });
    for (const info of found) {
      if (info.State !== "running") await this.#remove(info.Id);
      else this.#track(info.Id, info.Labels, true, publishedPort(info.Ports));
    }
    const grace = this.#options.adoptGraceMs ?? 30_000;
    this.#adoptTimer = setTimeout(() => void this.#dropUnclaimed(), grace);
    this.#adoptTimer.unref();
  }

  async start(spec: ProcessSpec): Promise<StartedProcess> {
    await this.#watchEvents();
    const container = await this.#docker.createContainer(this.#createOptions(spec));
    const id = container.id;
    const entry = this.#track(id, labelsOf(this.#options.controlPlaneId, spec), false);
    try {
      const ready = await this.#run(container, entry);
      if (ready.event !== "ready") throw startFailure(ready.error);
      entry.port = publishedPort(await this.#ports(container));
      entry.running = true;
      return {
        backendId: `docker:${id}`,
        host: this.#options.advertiseHost,
        port: entry.port ?? 0,
      };
    } catch (error) {
      this.#containers.delete(id);
      await this.#remove(id);
      throw error instanceof PraaSError ? error : new PraaSError("BACKEND_ERROR", String(error));
    }
  }

  /** Where clients reach a process that registered (its container's published data port). */
  async reachableAt(
    app: string,
    name: string,
  ): Promise<{ host: string; port: number } | undefined> {
    const entry = [...this.#containers.values()].find((e) => e.app === app && e.name === name);
    if (entry) entry.unclaimed = false;
    const port = entry?.port ?? (await this.#lookupPort(app, name));
    return port === undefined ? undefined : { host: this.#options.advertiseHost, port };
  }

  async stop(backendId: string, graceMs = 5000): Promise<void> {
    const id = containerId(backendId);
    const entry = this.#containers.get(id);
    if (entry === undefined) return;
    const container = this.#docker.getContainer(id);
    // Docker sends SIGTERM (the runtime swaps out when it has a control link), then SIGKILL.
    await container.stop({ t: Math.max(1, Math.ceil(graceMs / 1000)) }).catch(() => undefined);
    const ended = (await container.wait().catch(() => undefined)) as
      { StatusCode?: number } | undefined;
    await this.#died(id, entry, ended?.StatusCode ?? null);
  }

  onExit(listener: (exit: ExitInfo) => void): void {
    this.#listeners.push(listener);
  }

  running(): string[] {
    return [...this.#containers].filter(([, entry]) => entry.running).map(([id]) => `docker:${id}`);
  }

  async deleteLog(app: string, name: string): Promise<void> {
    await this.#docker
      .getVolume(walVolume(app, name))
      .remove()
      .catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 404) throw error;
      });
  }

  async shutdown(keep: ReadonlySet<string> = new Set()): Promise<void> {
    clearTimeout(this.#adoptTimer);
    await Promise.all(this.running().flatMap((id) => (keep.has(id) ? [] : [this.stop(id)])));
    const events = await this.#events;
    (events as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    this.#events = undefined;
  }

  #createOptions(spec: ProcessSpec): Docker.ContainerCreateOptions {
    const blobs = this.#options.blobs;
    const durable = spec.durability === "log";
    const launch = {
      ...launchOptionsOf(spec),
      bundleKey: spec.bundleKey,
      blobs,
      advertiseHost: this.#options.advertiseHost,
      ...(durable ? { durability: "log" as const, walPath: `${WAL_DIR}/${spec.name}.wal` } : {}),
      logLevel: this.#options.logLevel ?? "warn",
      // Docker enforces the memory limit on the container's cgroup (read-only inside it).
      extraArgs: ["--memory-guard", "watchdog"],
    };
    const memory = spec.memoryMiB * 1024 * 1024;
    return {
      name: `praas-${spec.app}-${spec.name}-${randomBytes(4).toString("hex")}`,
      Image: this.#options.image ?? `${RUNTIME_IMAGE}:latest`,
      Cmd: runtimeArgs(launch),
      Env: Object.entries(runtimeEnv(launch)).map(([key, value]) => `${key}=${value ?? ""}`),
      Labels: { ...this.#options.labels, ...labelsOf(this.#options.controlPlaneId, spec) },
      ExposedPorts: { [DATA_PORT]: {} },
      HostConfig: {
        NanoCpus: Math.round(spec.vcpus * 1e9),
        Memory: memory,
        MemorySwap: memory,
        PortBindings: { [DATA_PORT]: [{ HostIp: "", HostPort: "" }] },
        ...(this.#options.network === undefined ? {} : { NetworkMode: this.#options.network }),
        Binds: blobs.kind === "disk" ? [`${blobs.root}:${blobs.root}`] : [],
        Mounts: durable
          ? [{ Type: "volume", Source: walVolume(spec.app, spec.name), Target: WAL_DIR }]
          : [],
      },
    };
  }

  /** Starts the container and reads its first stdout line (the runtime's ready/failed line). */
  async #run(container: Docker.Container, entry: Tracked): Promise<ReadyLine> {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const stdout = new PassThrough();
    this.#docker.modem.demuxStream(stream, stdout, process.stderr);
    const lines = createInterface({ input: stdout });
    const first = new Promise<ReadyLine>((resolve, reject) => {
      const timeoutMs = this.#options.readyTimeoutMs ?? 60_000;
      const timer = setTimeout(
        () => reject(new PraaSError("BACKEND_ERROR", `container not ready after ${timeoutMs} ms`)),
        timeoutMs,
      );
      lines.once("line", (line) => {
        clearTimeout(timer);
        resolve(parseReady(line) ?? { event: "failed", host: "", port: 0 });
      });
      void entry.exited.then(() => {
        clearTimeout(timer);
        reject(new PraaSError("BACKEND_ERROR", "the container exited before it was ready"));
      });
    });
    try {
      await container.start();
      return await first;
    } finally {
      lines.close();
    }
  }

  async #ports(container: Docker.Container): Promise<Docker.Port[]> {
    const info = await container.inspect();
    const bindings = info.NetworkSettings.Ports[DATA_PORT] ?? [];
    return bindings.map((b) => ({
      IP: b.HostIp,
      PrivatePort: 7000,
      PublicPort: Number(b.HostPort),
      Type: "tcp",
    }));
  }

  /**
   * The published port of a container this backend does not track. On a network of its own (a
   * compose stack), any replica's container counts: a process started by one replica may link
   * to (and register with) another through the proxy. Elsewhere, only this control plane's.
   */
  async #lookupPort(app: string, name: string): Promise<number | undefined> {
    const label = [`${LABEL.app}=${app}`, `${LABEL.process}=${name}`];
    const network = this.#options.network;
    const filters: Record<string, string[]> =
      network === undefined
        ? { label: [...label, `${LABEL.plane}=${this.#options.controlPlaneId}`] }
        : { label, network: [network] };
    const found = await this.#docker.listContainers({ filters });
    const info = found[0];
    return info === undefined ? undefined : publishedPort(info.Ports);
  }

  #track(id: string, labels: Record<string, string>, running: boolean, port?: number): Tracked {
    let markExited = (): void => undefined;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const entry: Tracked = {
      app: labels[LABEL.app] ?? "",
      name: labels[LABEL.process] ?? "",
      running,
      exited,
      markExited,
      ...(port === undefined ? {} : { port }),
      ...(running ? { unclaimed: true } : {}),
    };
    this.#containers.set(id, entry);
    return entry;
  }

  /** One stream of `die` events for this control plane's containers. */
  async #watchEvents(): Promise<void> {
    this.#events ??= this.#docker.getEvents({
      filters: {
        type: ["container"],
        event: ["die"],
        label: [`${LABEL.plane}=${this.#options.controlPlaneId}`],
      },
    });
    const stream = await this.#events;
    if (this.#watching === stream) return;
    this.#watching = stream;
    createInterface({ input: stream }).on("line", (line) => this.#onEvent(line));
  }

  #onEvent(line: string): void {
    let event: { id?: string; Actor?: { Attributes?: Record<string, string> } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    const id = event.id ?? "";
    const entry = this.#containers.get(id);
    if (entry === undefined) return;
    const code = Number(event.Actor?.Attributes?.exitCode ?? "NaN");
    void this.#died(id, entry, Number.isNaN(code) ? null : code);
  }

  /** Reports the exit once (from the die event or from stop, whichever comes first). */
  async #died(id: string, entry: Tracked, code: number | null): Promise<void> {
    if (this.#containers.get(id) !== entry) return entry.exited;
    const wasRunning = entry.running;
    this.#containers.delete(id);
    await this.#remove(id);
    entry.markExited();
    if (!wasRunning) return; // a failed start: `start` rejects instead
    // 137 = 128 + SIGKILL: killed from outside (or by the memory limit).
    const signal = code === 137 ? "SIGKILL" : null;
    const exit = { backendId: `docker:${id}`, app: entry.app, name: entry.name, code, signal };
    for (const listener of this.#listeners) listener(exit);
  }

  async #dropUnclaimed(): Promise<void> {
    for (const [id, entry] of this.#containers) {
      if (entry.unclaimed === true) await this.stop(`docker:${id}`).catch(() => undefined);
    }
  }

  async #remove(id: string): Promise<void> {
    await this.#docker
      .getContainer(id)
      .remove({ force: true, v: false })
      .catch(() => undefined); // already removed
  }
}

function labelsOf(plane: string, spec: { app: string; name: string }): Record<string, string> {
  return { [LABEL.app]: spec.app, [LABEL.process]: spec.name, [LABEL.plane]: plane };
}

function publishedPort(ports: Docker.Port[]): number | undefined {
  return ports.find((p) => p.PrivatePort === 7000 && p.PublicPort > 0)?.PublicPort;
}

function containerId(backendId: string): string {
  return backendId.startsWith("docker:") ? backendId.slice("docker:".length) : backendId;
}

export function walVolume(app: string, name: string): string {
  return `praas-wal-${app}-${name}`;
}
