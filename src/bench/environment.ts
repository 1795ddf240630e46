/**
 * Everything a run needs, started on first use and stopped in reverse order by `close()`:
 * a scratch directory, bundles, the control plane, redis-server and the raw TCP echo server
 * are shared by the experiments of a run; what one experiment starts itself (`launch`, `defer`)
 * is stopped by `endExperiment()`, so idle processes do not disturb the next experiment.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { DockerBackend } from "../backends/index.js";
import { bridgeGateway, dockerClient, dockerUnavailable } from "../backends/docker/index.js";
import { ControlPlane } from "../control-plane/control-plane.js";
import { launchProcess, type LaunchedProcess } from "../runtime/launch.js";
import {
  PraaS,
  connect,
  type CreateProcessBody,
  type Process,
  type ProcessConnection,
} from "../sdk/index.js";
import { writeBundle, writeDeployable, type BenchApp } from "./apps.js";
import { NatSite } from "./nat-site.js";
import { namespacesUnavailable } from "./netns.js";
import { SkippedExperiment } from "./skipped.js";
import { startRawEchoServer, type RawEchoServer } from "./raw-echo.js";
import { startRedis, type RedisServer } from "./redis.js";

type Cleanup = () => unknown;

export interface Launched {
  process: LaunchedProcess;
  connection: ProcessConnection;
}

export interface Cluster {
  plane: ControlPlane;
  client: PraaS;
}

export class Environment {
  readonly workDir: string;
  readonly #shared: Cleanup[] = [];
  readonly #local: Cleanup[] = [];
  readonly #memo = new Map<string, Promise<unknown>>();
  #closing: Promise<void> | undefined;

  private constructor(workDir: string) {
    this.workDir = workDir;
  }

  static async create(): Promise<Environment> {
    const env = new Environment(await mkdtemp(path.join(tmpdir(), "praas-bench-")));
    env.#shared.push(() => rm(env.workDir, { recursive: true, force: true }));
    return env;
  }

  /** Runs `cleanup` when the current experiment ends (last registered, first run). */
  defer(cleanup: Cleanup): void {
    this.#local.push(cleanup);
  }

  endExperiment(): Promise<void> {
    return unwind(this.#local);
  }

  /**
   * Stops everything; errors are reported and do not stop the rest. Every caller (the run's end
   * and a signal handler, at once) waits for the same one stop, so none exits halfway through.
   */
  close(): Promise<void> {
    this.#closing ??= unwind(this.#local).then(() => unwind(this.#shared));
    return this.#closing;
  }

  redis(): Promise<RedisServer> {
    return this.#once("redis", () => this.#started(startRedis()));
  }

  rawEcho(): Promise<RawEchoServer> {
    return this.#once("raw-echo", () => this.#started(startRawEchoServer()));
  }

  bundle(app: BenchApp): Promise<string> {
    return this.#once(`bundle-${app}`, () => writeBundle(app, this.workDir));
  }

  /** Starts a process of `app` directly (no control plane) and opens a connection to it. */
  async launch(app: BenchApp, name: string, workers = 1): Promise<Launched> {
    const launched = await launchProcess({
      application: `bench-${app}`,
      name,
      bundlePath: await this.bundle(app),
      blobs: { kind: "disk", root: path.join(this.workDir, "launched-blobs") },
      workers,
      memoryMiB: 1024,
      token: `bench-${name}`,
      // The Redis baselines run inside functions and dial Redis: the workers need the network.
      permissions: { network: true },
    });
    this.defer(() => stopLaunched(launched));
    const connection = await connect(launched);
    this.defer(() => connection.close());
    return { process: launched, connection };
  }

  /** An in-process control plane (memory store, disk blobs under the work directory). */
  cluster(): Promise<Cluster> {
    return this.#once("cluster", async () => {
      const plane = await ControlPlane.start({
        port: 0,
        dataDir: path.join(this.workDir, "data"),
        store: { kind: "memory" },
        logLevel: "warn",
      });
      this.#shared.push(() => plane.stop());
      const client = new PraaS(plane.url);
      this.#shared.push(() => client.close());
      return { plane, client };
    });
  }

  /**
   * A second in-process control plane whose processes are containers (the docker backend);
   * throws SkippedExperiment when this machine has no Docker engine or no runtime image.
   */
  dockerCluster(): Promise<Cluster> {
    return this.#once("docker-cluster", async () => {
      const docker = dockerClient();
      const unavailable = await dockerUnavailable(docker);
      if (unavailable !== undefined) throw new SkippedExperiment(unavailable);
      const advertiseHost = await bridgeGateway(docker);
      const dataDir = path.join(this.workDir, "docker-data");
      const backend = new DockerBackend({
        docker,
        controlPlaneId: `bench-${process.pid}`,
        advertiseHost,
        blobs: { kind: "disk", root: path.join(dataDir, "blobs") },
      });
      const plane = await ControlPlane.start(
        { port: 0, advertiseHost, dataDir, store: { kind: "memory" }, logLevel: "warn" },
        { backend: () => backend },
      );
      this.#shared.push(() => plane.stop());
      const client = new PraaS(plane.url);
      this.#shared.push(() => client.close());
      await client.deploy("bench-echo", await this.deployable("echo"));
      return { plane, client };
    });
  }

  /**
   * Control planes and a client across real NATs (network namespaces), kept for the rest of the
   * run; `symmetric` NATs defeat hole punching. Throws SkippedExperiment when this machine cannot
   * build namespaces (not root, no `ip`/`iptables`/`nsenter`).
   */
  natSite(symmetric: boolean): Promise<NatSite> {
    return this.#once(`nat-site-${symmetric}`, async () => {
      const unavailable = namespacesUnavailable();
      if (unavailable !== undefined)
        throw new SkippedExperiment(`network namespaces: ${unavailable}`);
      const app = await this.deployable("echo");
      const site = await NatSite.start({ symmetric, workDir: this.workDir, app });
      this.#shared.push(() => site.close());
      return site;
    });
  }

  /** A deployable directory of `app`, written once per run. */
  deployable(app: BenchApp): Promise<string> {
    return this.#once(`deployable-${app}`, () => writeDeployable(app, this.workDir));
  }

  /** Deploys `app` to the control plane once; resolves to its application name. */
  deploy(app: BenchApp): Promise<string> {
    return this.#once(`deploy-${app}`, async () => {
      const { client } = await this.cluster();
      await client.deploy(`bench-${app}`, await this.deployable(app));
      return `bench-${app}`;
    });
  }

  /** Creates a process of `app` through the control plane; deleted when the experiment ends. */
  async createProcess(app: BenchApp, name: string, body: CreateProcessBody = {}): Promise<Process> {
    const { client } = await this.cluster();
    const appName = await this.deploy(app);
    const created = await client.createProcess(appName, name, body);
    this.defer(() => client.deleteProcess(appName, name));
    return created;
  }

  async #started<T extends { stop(): Promise<void> }>(starting: Promise<T>): Promise<T> {
    const started = await starting;
    this.#shared.push(() => started.stop());
    return started;
  }

  #once<T>(key: string, make: () => Promise<T>): Promise<T> {
    let value = this.#memo.get(key) as Promise<T> | undefined;
    if (value === undefined) {
      value = make();
      this.#memo.set(key, value);
    }
    return value;
  }
}

async function unwind(cleanups: Cleanup[]): Promise<void> {
  for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) {
    try {
      await cleanup();
    } catch (error) {
      process.stderr.write(`[bench] cleanup failed: ${String(error)}\n`);
    }
  }
}

async function stopLaunched(launched: LaunchedProcess): Promise<void> {
  const { child } = launched;
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  await launched.exited;
}
