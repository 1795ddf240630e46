/**
 * The control plane: the metadata store, the blob store, a backend, the control-link server and
 * the HTTP API, wired together. `ControlPlane.start(options)` returns a running instance;
 * `stop()` stops every process it started (swapping them out first when the metadata store
 * outlives this replica, so nothing is lost) and closes everything.
 */
import type { FastifyInstance } from "fastify";
import { Registry } from "prom-client";
import { LocalBackend, type ProcessBackend, type WarmPoolStats } from "../backends/index.js";
import { createLogger, type Logger } from "../logging/index.js";
import type {
  AppInfo,
  CreateProcessBody,
  ProcessInfo,
  ProcessListInfo,
} from "../protocol/index.js";
import {
  openBlobStore,
  openMetadataStore,
  type BlobStore,
  type MetadataStore,
} from "../storage/index.js";
import { AppService } from "./app-service.js";
import { Cluster, type ClusterTimings } from "./cluster.js";
import {
  resolveControlPlaneConfig,
  type ControlPlaneConfig,
  type ControlPlaneOptions,
} from "./config.js";
import { ControlLinkServer, type ControlLinkTimings } from "./control-link-server.js";
import { registerWarmPoolMetrics } from "./warm-pool-metrics.js";
import { PeerDirectory } from "./directory.js";
import { createHttpServer } from "./http/server.js";
import { Invoker } from "./invoker.js";
import { getProcessOrThrow } from "./lifecycle.js";
import { ProcessManager } from "./process-manager.js";
import { toProcessInfo } from "./records.js";
import type { ControlPlaneService, HealthInfo, InvocationOutput } from "./service.js";

/** How soon a sweep that could not read the store is tried again. */
const SWEEP_RETRY_MS = 5_000;
/** What `start` wires in besides the config: tests and other backends replace the defaults. */
export interface ControlPlaneDeps {
  /** Where processes run; default: a {@link LocalBackend} built from the config. */
  backend?: (config: ControlPlaneConfig) => ProcessBackend;
  /** Opens the metadata store; default: from `config.store`. Tests pass a peer of a store they read. */
  metadataStore?: (config: ControlPlaneConfig) => Promise<MetadataStore>;
  log?: Logger;
  /** Control-link deadlines; the defaults suit production. */
  controlLink?: Partial<ControlLinkTimings>;
  /** Replica heartbeat and link-wait timings; the defaults suit production. */
  cluster?: Partial<ClusterTimings>;
}

export class ControlPlane implements ControlPlaneService {
  readonly config: ControlPlaneConfig;
  readonly log: Logger;
  readonly #store: MetadataStore;
  readonly #blobs: BlobStore;
  readonly #backend: ProcessBackend;
  readonly #links: ControlLinkServer;
  readonly #cluster: Cluster;
  readonly #manager: ProcessManager;
  readonly #directory: PeerDirectory;
  readonly #apps: AppService;
  readonly #invoker: Invoker;
  readonly registry = new Registry();
  #http: FastifyInstance | undefined;
  #controlPort = 0;
  #sweep: NodeJS.Timeout | undefined;
  #stopping = false;

  private constructor(
    config: ControlPlaneConfig,
    store: MetadataStore,
    blobs: BlobStore,
    log: Logger,
    deps: ControlPlaneDeps,
  ) {
    this.config = config;
    this.log = log;
    this.#store = store;
    this.#blobs = blobs;
    this.#backend = deps.backend?.(config) ?? localBackend(config, log);
    registerWarmPoolMetrics(this.registry, () => this.#backend.warmPool?.());
    this.#links = new ControlLinkServer(
      {
        secretOf: async (app, name) => (await store.getProcess(app, name))?.secret,
        registered: (registration) => this.#registered(registration),
        lost: (app, name) => this.#manager.linkLost(app, name),
        resumeRequested: (app, from, peer) => this.#resumeForPeer(app, from, peer),
        swappedItself: (app, name, size) => this.#manager.swappedItself(app, name, size),
        clusterSecret: () => this.#cluster.clusterSecret(),
        bundle: (app, key) => this.#apps.bundle(app, key),
      },
      log,
      deps.controlLink,
    );
    this.#cluster = new Cluster({
      store,
      links: this.#links,
      replicaId: config.replicaId,
      address: () => config.replicaAddress ?? `${config.advertiseHost}:${this.#controlPort}`,
      log,
      timings: {
        ...(deps.controlLink?.reconnectWaitMs
          ? { linkWaitMs: deps.controlLink.reconnectWaitMs }
          : {}),
        ...deps.cluster,
      },
    });
    this.#manager = new ProcessManager({
      config,
      store,
      blobs,
      backend: this.#backend,
      links: this.#links,
      cluster: this.#cluster,
      log,
      controlAddress: () =>
        config.advertiseControl ?? `${config.advertiseHost}:${this.#controlPort}`,
    });
    this.#directory = new PeerDirectory(store, this.#links, log);
    this.#apps = new AppService(config, store, blobs);
    this.#invoker = new Invoker(config, store, this.#manager);
  }

  static async start(
    options: ControlPlaneOptions = {},
    deps: ControlPlaneDeps = {},
  ): Promise<ControlPlane> {
    const config = resolveControlPlaneConfig(options);
    const logger = deps.log ?? createLogger("control-plane", config.logLevel);
    const store = await (deps.metadataStore?.(config) ?? openMetadataStore(config.store));
    const blobs = await openBlobStore(config.blobs);
    const plane = new ControlPlane(config, store, blobs, logger, deps);
    await plane.#listen();
    return plane;
  }

  /** The HTTP API's base URL. */
  get url(): string {
    const address = this.#http?.server.address();
    const port = typeof address === "object" && address ? address.port : this.config.port;
    return `${this.config.https ? "https" : "http"}://${this.config.host}:${port}`;
  }

  get controlPort(): number {
    return this.#controlPort;
  }

  /** The backend's warm pool now (undefined: the backend keeps none, or it is off). */
  get warmPool(): WarmPoolStats | undefined {
    return this.#backend.warmPool?.();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#sweep);
    await this.#http?.close();
    await this.#invoker.stop();
    await this.#manager.shutdown(this.#store.kind === "redis");
    await this.#cluster.stop();
    await this.#directory.stop();
    await this.#links.close();
    await this.#store.close();
    await this.#blobs.close();
  }

  deployApp(name: string, tarball: Buffer): Promise<AppInfo> {
    return this.#apps.deploy(name, tarball);
  }

  listApps(): Promise<AppInfo[]> {
    return this.#apps.list();
  }

  getApp(name: string): Promise<AppInfo> {
    return this.#apps.get(name);
  }

  deleteApp(name: string, force: boolean): Promise<void> {
    return this.#apps.delete(name, force, (app, proc) => this.#manager.delete(app, proc));
  }

  async createProcess(app: string, name: string, body: CreateProcessBody): Promise<ProcessInfo> {
    return toProcessInfo(await this.#manager.create(app, name, body));
  }

  async listProcesses(app: string): Promise<ProcessListInfo> {
    await this.#apps.get(app);
    const list: ProcessListInfo = { active: [], swapped: [], failed: [] };
    for (const record of await this.#store.listProcesses(app)) {
      const info = toProcessInfo(record);
      if (record.status === "swapped") list.swapped.push(info);
      else if (record.status === "failed") list.failed.push(info);
      else if (record.status !== "deleted") list.active.push(info);
    }
    return list;
  }

  async getProcess(app: string, name: string): Promise<ProcessInfo> {
    return toProcessInfo(await getProcessOrThrow(this.#store, app, name));
  }

  async swapProcess(app: string, name: string): Promise<ProcessInfo> {
    return toProcessInfo(await this.#manager.swap(app, name));
  }

  async resumeProcess(app: string, name: string): Promise<ProcessInfo> {
    return toProcessInfo(await this.#manager.resume(app, name));
  }

  deleteProcess(app: string, name: string): Promise<void> {
    return this.#manager.delete(app, name);
  }

  invoke(app: string, fn: string, payload: Buffer, process?: string): Promise<InvocationOutput> {
    return this.#invoker.invoke(app, fn, payload, process);
  }

  health(): HealthInfo {
    return {
      status: "ok",
      replica: this.config.replicaId,
      store: this.#store.kind,
      blobs: this.#blobs.kind,
      backend: this.#backend.kind,
    };
  }

  async #listen(): Promise<void> {
    this.#controlPort = await this.#links.listen(this.config.controlHost, this.config.controlPort);
    await this.#cluster.start();
    await this.#directory.start();
    await this.#invoker.start();
    this.#http = await createHttpServer(this, {
      logger: this.log,
      ...(this.config.apiToken ? { apiToken: this.config.apiToken } : {}),
      ...(this.config.https ? { https: this.config.https } : {}),
      bodyLimitBytes: this.config.bodyLimitBytes,
      metrics: { registry: this.registry },
    });
    await this.#http.listen({ host: this.config.host, port: this.config.port });
    this.#scheduleSweep(this.config.reconnectGraceMs);
    this.log.info({ url: this.url, controlPort: this.#controlPort }, "control plane listening");
  }

  /**
   * Processes recorded as active that did not dial back by then are marked failed. When the
   * store cannot be read (Redis down), the sweep is tried again later rather than skipped.
   */
  #scheduleSweep(delayMs: number): void {
    this.#sweep = setTimeout(() => {
      this.#manager.sweepUnreachable().catch((error: unknown) => {
        this.log.warn({ err: String(error) }, "sweep of unreachable processes failed; retrying");
        if (!this.#stopping) this.#scheduleSweep(SWEEP_RETRY_MS);
      });
    }, delayMs);
    this.#sweep.unref();
  }

  async #registered(registration: {
    app: string;
    name: string;
    host: string;
    port: number;
    token: string;
  }): Promise<void> {
    // A container registers its own address; clients reach it where the backend published it.
    const reachable = await this.#backend.reachableAt?.(registration.app, registration.name);
    registration = { ...registration, ...reachable };
    if (!this.#manager.registrations.deliver(registration))
      await this.#manager.reconnected(registration);
    this.#directory.schedule(registration.app);
  }

  /** A process wants to reach a swapped peer: resume it, then make sure the asker knows where it is. */
  async #resumeForPeer(app: string, from: string, peer: string): Promise<void> {
    await this.#manager.ensureActive(app, peer, this.config.startTimeoutMs);
    await this.#directory.push(app, from);
  }
}

function localBackend(config: ControlPlaneConfig, log: Logger): ProcessBackend {
  return new LocalBackend({
    dataDir: config.dataDir,
    blobs: config.blobs,
    host: config.advertiseHost,
    logLevel: config.processLogLevel,
    warmPool: {
      size: config.warmPool,
      vcpus: config.defaultVcpus,
      memoryMiB: config.warmPoolMemoryMiB,
      maxPayloadBytes: config.bodyLimitBytes,
    },
    log: (message, fields) => log.warn(fields ?? {}, message),
  });
}
