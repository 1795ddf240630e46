/**
 * The control plane: the metadata store, the blob store, a backend, the control-link server and
 * the HTTP API, wired together. `ControlPlane.start(options)` returns a running instance;
 * `stop()` stops every process it started (swapping them out first when the metadata store
 * outlives this replica, file or Redis, so nothing is lost) and closes everything.
 */
import type { FastifyInstance } from "fastify";
import { Registry } from "prom-client";
import { LocalBackend, type ProcessBackend, type WarmPoolStats } from "../backends/index.js";
import { createLogger, type Logger } from "../logging/index.js";
import {
  PraaSError,
  type AppInfo,
  type AppMetricsSummary,
  type LogRecord,
  type ConnectionInfo,
  type CreateProcessBody,
  type PeerTicket,
  type ProcessInfo,
  type ProcessListInfo,
  type ProcessStateInfo,
  type RendezvousAddress,
} from "../protocol/index.js";
import {
  openBlobStore,
  openMetadataStore,
  type BlobStore,
  type MetadataStore,
  type ProcessRecord,
} from "../storage/index.js";
import { listenFailure } from "../transport/index.js";
import { Alarms } from "./alarms.js";
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
import { IdleSwaps } from "./idle-swaps.js";
import { Invoker } from "./invoker.js";
import { FunctionMetricsHub } from "./function-metrics.js";
import { LifecycleMetrics } from "./lifecycle-metrics.js";
import { LogHub, type LogFilter } from "./log-hub.js";
import { getProcessOrThrow } from "./lifecycle.js";
import { NatTraversal } from "./nat.js";
import { ProcessManager } from "./process-manager.js";
import { processInfoJson, processListJson, type ProcessListJson } from "./process-list-json.js";
import { listGroupOf, toProcessInfo } from "./records.js";
import type {
  ControlPlaneService,
  HealthInfo,
  InvocationOutput,
  InvokeOptions,
} from "./service.js";

/** How often every record is read again for alarms set through other replicas. */
const ALARM_SCAN_MS = 5_000;
/** How soon a sweep that could not read the store is tried again. */
const SWEEP_RETRY_MS = 5_000;
/** A state listing is a walk over a map in the process: anything slower means it is stuck. */
const STATE_LISTING_TIMEOUT_MS = 10_000;
/**
 * How long /healthz waits for the metadata store: inside the check timeout of
 * deploy/haproxy/haproxy.cfg (`inter 1s`, which HAProxy uses as the check timeout), and far
 * above a healthy Redis PING (tens of µs).
 */
const STORE_PING_TIMEOUT_MS = 500;
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
  readonly #idleSwaps: IdleSwaps;
  readonly #alarms: Alarms;
  readonly registry = new Registry();
  readonly #logs = new LogHub();
  readonly #functionMetrics = new FunctionMetricsHub(this.registry);
  readonly #lifecycleMetrics: LifecycleMetrics;
  #http: FastifyInstance | undefined;
  /** Present when a rendezvous is configured (processes behind NAT). */
  #nat: NatTraversal | undefined;
  #controlPort = 0;
  /** See #infoJson. */
  readonly #listedJson = new WeakMap<ProcessRecord, Buffer>();
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
    this.#lifecycleMetrics = new LifecycleMetrics(this.registry, store);
    this.#backend = deps.backend?.(config) ?? localBackend(config, log);
    registerWarmPoolMetrics(this.registry, () => this.#backend.warmPool?.());
    this.#links = new ControlLinkServer(
      {
        secretOf: async (app, name) => (await store.getProcess(app, name))?.secret,
        registered: (registration) => this.#registered(registration),
        lost: (app, name) => this.#manager.linkLost(app, name),
        resumeRequested: (app, from, peer) => this.#resumeForPeer(app, from, peer),
        peerTicketRequested: (app, _from, peer) => this.#peerTicket(app, peer),
        swappedItself: (app, name, size) => this.#manager.swappedItself(app, name, size),
        idle: (app, name) => this.#idleSwaps.reported(app, name),
        alarm: (app, name, request) => this.#alarms.request(app, name, request),
        clusterSecret: () => this.#cluster.clusterSecret(),
        bundle: (app, key) => this.#apps.bundle(app, key),
        logs: (app, name, batch) => {
          this.#logs.ingest(app, name, batch);
          if (batch.metrics) this.#functionMetrics.ingest(app, name, batch.metrics);
        },
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
      metrics: this.#lifecycleMetrics,
      controlAddress: () =>
        config.advertiseControl ?? `${config.advertiseHost}:${this.#controlPort}`,
    });
    this.#directory = new PeerDirectory(store, this.#links, log);
    this.#apps = new AppService(config, store, blobs);
    this.#invoker = new Invoker(config, store, this.#manager, (record) =>
      this.#dialable(record.app, record.name, record.connection),
    );
    this.#idleSwaps = new IdleSwaps(this.#manager, store, this.registry, log);
    this.#alarms = new Alarms({
      store,
      log,
      fire: (app, name, fn, payload) => this.#fireAlarm(app, name, fn, payload),
      // A resume, then the invocation, then slack: only then may another replica fire it again.
      leaseMs: config.startTimeoutMs + config.invocationTimeoutMs + 10_000,
      retryMs: config.alarmRetryMs,
      scanIntervalMs: ALARM_SCAN_MS,
    });
  }

  static async start(
    options: ControlPlaneOptions = {},
    deps: ControlPlaneDeps = {},
  ): Promise<ControlPlane> {
    const config = resolveControlPlaneConfig(options);
    const logger = deps.log ?? createLogger("control-plane", config.logLevel, config.logFormat);
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

  /** Where clients and processes pair, when a rendezvous is configured. */
  get rendezvous(): RendezvousAddress | undefined {
    return this.#nat?.address;
  }

  /** The backend's warm pool now (undefined: the backend keeps none, or it is off). */
  get warmPool(): WarmPoolStats | undefined {
    return this.#backend.warmPool?.();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#sweep);
    await this.#alarms.stop();
    await this.#http?.close();
    await this.#invoker.stop();
    // Invocations under way failed as the invoker closed: their alarms are put back first.
    await this.#alarms.settled();
    // A store that outlives us (file, Redis) gets processes swapped out, so a restart resumes them.
    await this.#manager.shutdown(this.#store.kind !== "memory");
    await this.#cluster.stop();
    await this.#directory.stop();
    await this.#links.close();
    await this.#nat?.close();
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

  rollbackApp(name: string, version?: number): Promise<AppInfo> {
    return this.#apps.rollback(name, version);
  }

  secretNames(app: string): Promise<string[]> {
    return this.#apps.secretNames(app);
  }

  setSecret(app: string, key: string, value: string | undefined): Promise<AppInfo> {
    return this.#apps.setSecret(app, key, value);
  }

  async upgradeProcess(app: string, name: string): Promise<ProcessInfo> {
    return toProcessInfo(await this.#manager.upgrade(app, name));
  }

  async deleteApp(name: string, force: boolean): Promise<void> {
    await this.#apps.delete(name, force, (app, proc) => this.#manager.deleteWhenSettled(app, proc));
    this.#logs.forget(name);
  }

  async createProcess(app: string, name: string, body: CreateProcessBody): Promise<ProcessInfo> {
    return this.#describe(await this.#manager.create(app, name, body));
  }

  async listProcesses(app: string): Promise<ProcessListInfo> {
    await this.#apps.get(app);
    const list: ProcessListInfo = { active: [], swapped: [], failed: [] };
    for (const record of await this.#store.listProcessesReadOnly(app)) {
      const group = listGroupOf(record.status);
      if (group !== undefined) list[group].push(this.#describe(record));
    }
    return list;
  }

  async listProcessesJson(app: string): Promise<Buffer> {
    await this.#apps.get(app);
    const list: ProcessListJson = { active: [], swapped: [], failed: [] };
    for (const record of await this.#store.listProcessesReadOnly(app)) {
      const group = listGroupOf(record.status);
      if (group !== undefined) list[group].push(this.#infoJson(record));
    }
    return processListJson(list);
  }

  async getProcess(app: string, name: string): Promise<ProcessInfo> {
    const info = this.#describe(await getProcessOrThrow(this.#store, app, name));
    const connections = info.connection && (await this.#openConnections(app, name));
    return connections ? { ...info, connections } : info;
  }

  /**
   * A connection description to dial now: for a process behind NAT it carries a fresh dialer
   * ticket, and the process has been told to join the same pairing.
   */
  async connectProcess(app: string, name: string): Promise<ConnectionInfo> {
    const record = await getProcessOrThrow(this.#store, app, name);
    if (record.status !== "active" || !record.connection) {
      const why = `process ${app}/${name} is ${record.status} (resume it first)`;
      throw new PraaSError("INVALID_STATE", why);
    }
    return this.#dialable(app, name, record.connection);
  }

  async swapProcess(app: string, name: string): Promise<ProcessInfo> {
    return this.#describe(await this.#manager.swap(app, name));
  }

  async resumeProcess(app: string, name: string): Promise<ProcessInfo> {
    return this.#describe(await this.#manager.resume(app, name));
  }

  deleteProcess(app: string, name: string): Promise<void> {
    return this.#manager.delete(app, name);
  }

  invoke(
    app: string,
    fn: string,
    payload: Buffer,
    process?: string,
    options: InvokeOptions = {},
  ): Promise<InvocationOutput> {
    return this.#lifecycleMetrics.invocation(app, fn, () =>
      this.#invoker.invoke(app, fn, payload, process, options.create === true),
    );
  }

  async logs(app: string, filter: LogFilter): Promise<LogRecord[]> {
    await this.#apps.get(app);
    return this.#logs.recent(app, filter);
  }

  async processState(app: string, name: string): Promise<ProcessStateInfo> {
    const record = await getProcessOrThrow(this.#store, app, name);
    if (record.status !== "active") {
      const why = `process ${app}/${name} is ${record.status}; its state is not in memory`;
      throw new PraaSError("INVALID_STATE", why);
    }
    return this.#cluster.command(app, name, "state", undefined, STATE_LISTING_TIMEOUT_MS);
  }

  async metricsSummary(app: string): Promise<AppMetricsSummary> {
    await this.#apps.get(app);
    return { app, at: Date.now(), processes: this.#functionMetrics.summary(app) };
  }

  followLogs(app: string, filter: LogFilter, listener: (record: LogRecord) => void): () => void {
    return this.#logs.follow(app, filter, listener);
  }

  /** Degraded while the metadata store does not answer: this replica can change nothing then. */
  async health(): Promise<HealthInfo> {
    const reason = await this.#store.ping(STORE_PING_TIMEOUT_MS).then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    return {
      status: reason === undefined ? "ok" : "degraded",
      replica: this.config.replicaId,
      store: this.#store.kind,
      storeStatus: reason === undefined ? "reachable" : "unreachable",
      ...(reason === undefined ? {} : { reason }),
      blobs: this.#blobs.kind,
      backend: this.#backend.kind,
    };
  }

  async #listen(): Promise<void> {
    const rendezvous = this.config.rendezvous;
    if (rendezvous)
      this.#nat = await NatTraversal.start(rendezvous, this.config.advertiseHost, this.registry);
    this.#controlPort = await this.#links.listen(this.config.controlHost, this.config.controlPort);
    await this.#cluster.start();
    await this.#directory.start();
    await this.#invoker.start();
    await this.#alarms.start();
    this.#http = await createHttpServer(this, {
      logger: this.log,
      ...(this.config.apiToken ? { apiToken: this.config.apiToken } : {}),
      ...(this.config.https ? { https: this.config.https } : {}),
      bodyLimitBytes: this.config.bodyLimitBytes,
      metrics: { registry: this.registry },
    });
    await this.#http
      .listen({ host: this.config.host, port: this.config.port })
      .catch((error: unknown) => {
        throw listenFailure(error as Error, "the HTTP API's", "--port (port)");
      });
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
    this.#directory.welcome(registration.app, registration.name);
  }

  /** The API's view of a record: a process behind NAT also names the rendezvous to pair at. */
  #describe(record: Parameters<typeof toProcessInfo>[0]): ProcessInfo {
    const info = toProcessInfo(record);
    const path = info.connection?.path;
    if (info.connection && path !== undefined && path !== "direct" && this.#nat)
      info.connection = { ...info.connection, rendezvous: this.#nat.address };
    return info;
  }

  /**
   * The JSON of a record's ProcessInfo. A frozen record (the memory and file stores list their
   * own) never changes, so its JSON is kept with it: listing 10,000 unchanged swapped processes
   * again costs a lookup each. What #describe adds (the rendezvous) is fixed once listening.
   */
  #infoJson(record: ProcessRecord): Buffer {
    let json = this.#listedJson.get(record);
    if (json === undefined) {
      json = Buffer.from(processInfoJson(this.#describe(record)));
      if (Object.isFrozen(record)) this.#listedJson.set(record, json);
    }
    return json;
  }

  /** Open data-plane connections by path, when the process is linked here and answers. */
  async #openConnections(app: string, name: string): Promise<ProcessInfo["connections"]> {
    if (!this.#links.has(app, name)) return undefined;
    const status = await this.#links.command(app, name, "status", undefined, 2_000).catch(() => {
      return undefined;
    });
    return status?.connections;
  }

  /** `connection` as a client can dial it now: with a fresh pairing for a process behind NAT. */
  async #dialable(
    app: string,
    name: string,
    connection: ConnectionInfo | undefined,
  ): Promise<ConnectionInfo> {
    if (!connection) throw new PraaSError("INVALID_STATE", `process ${app}/${name} is not active`);
    if (connection.path === undefined || connection.path === "direct") return connection;
    const { rendezvous, ticket } = await this.#pairWith(app, name);
    return { ...connection, rendezvous, ticket };
  }

  /** Tells the process to join a new pairing as listener; resolves the dialer's half. */
  #pairWith(app: string, name: string): Promise<PeerTicket> {
    const nat = this.#nat;
    if (!nat) throw new PraaSError("UNAVAILABLE", "no rendezvous configured");
    return nat.dialerTicket(async (pair) => {
      await this.#cluster.command(app, name, "pair", pair, 10_000);
    });
  }

  /** An alarm invokes its function sticky, like `POST /apps/:app/invoke/:fn?process=`. */
  async #fireAlarm(app: string, name: string, fn: string, payload: Buffer): Promise<void> {
    await this.invoke(app, fn, payload, name);
  }

  /** A process wants to reach a peer behind NAT: the peer must be active to pair. */
  async #peerTicket(app: string, peer: string): Promise<PeerTicket> {
    await this.#manager.ensureActive(app, peer, this.config.startTimeoutMs);
    return this.#pairWith(app, peer);
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
    netns: config.processNetns,
    warmPool: {
      size: config.warmPool,
      vcpus: config.defaultVcpus,
      memoryMiB: config.warmPoolMemoryMiB,
      maxPayloadBytes: config.bodyLimitBytes,
    },
    log: (message, fields) => log.warn(fields ?? {}, message),
  });
}
