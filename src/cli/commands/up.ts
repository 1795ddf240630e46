/**
 * `praas up`: the control plane in this process, its processes on this machine: child processes
 * (`--backend local`, the default) or containers (`--backend docker`, see docker-up.ts). A file
 * metadata store under the data dir and disk blobs by default (`--store memory` forgets on exit);
 * `--redis` and `--s3-*` for shareable state. Ctrl-C / SIGTERM stop every process it started
 * (swapped out first unless the store is memory, so nothing is lost).
 * Processes run in process groups of their own, so a Ctrl-C reaches only this process.
 */
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { hostname } from "node:os";
import type { Command } from "commander";
import type { ControlPlane } from "../../control-plane/control-plane.js";
import type { ControlPlaneOptions } from "../../control-plane/config.js";
import type { LogLevel } from "../../logging/index.js";
import { MAX_PORT, PraaSError, parseDuration, parseInteger } from "../../protocol/index.js";
import type { BlobStoreConfig, MetadataStoreConfig } from "../../storage/index.js";
import { printError } from "../output.js";
import type { DockerUpFlags } from "./docker-up.js";
import { addNatOptions, natOptions, type NatFlags } from "./nat-flags.js";

interface UpFlags extends NatFlags {
  host: string;
  port: string;
  controlPort?: string;
  controlHost?: string;
  advertiseHost?: string;
  advertiseControl?: string;
  replicaId?: string;
  replicaAddress?: string;
  dockerHost?: string;
  controlPlaneId?: string;
  runtimeImage?: string;
  network?: string;
  https?: boolean;
  cert?: string;
  key?: string;
  apiToken?: string;
  redis?: string;
  store: string;
  backend: string;
  dataDir: string;
  s3Endpoint?: string;
  s3Bucket?: string;
  s3Region: string;
  maxBody: string;
  invocationTimeout?: string;
  startTimeout?: string;
  reconnectGrace?: string;
  alarmRetry?: string;
  maxAutoProcesses?: string;
  idleSwap: string;
  warmPool?: string;
  warmPoolMemory?: string;
  deployExamples?: boolean;
  errorStacks?: boolean;
  logLevel: LogLevel;
  json?: boolean;
}

export function registerUp(program: Command): void {
  const up = program
    .command("up")
    .description("run the control plane, and its processes as child processes or containers")
    .option("--host <host>", "HTTP listen address", "127.0.0.1")
    .option("--port <port>", "HTTP port (0: any free port)", "8080")
    .option(
      "--control-port <port>",
      "control-link port processes dial (default: HTTP port + 1; 0: any free port)",
    )
    .option(
      "--control-host <host>",
      "control-link listen address, e.g. 0.0.0.0 (default: the advertise host)",
    )
    .option(
      "--advertise-host <host>",
      "address processes listen on and dial the control link at; clients reach processes there (default 127.0.0.1; docker: the docker0 gateway)",
    )
    .option(
      "--advertise-control <host:port>",
      "address processes dial for their control link, e.g. a proxy's TCP frontend in front of " +
        "several replicas (default: --advertise-host and the control port)",
    )
    .option(
      "--replica-id <id>",
      "this replica's name among replicas sharing one --redis store (default: from " +
        "--replica-address, else the advertise host and control port); restart a replica " +
        "with the same id",
    )
    .option(
      "--replica-address <host:port>",
      "where peer replicas reach this one's control port to forward commands " +
        "(default: --advertise-host and the control port)",
    )
    .option("--https", "serve HTTPS (needs --cert and --key; `praas certs` makes a pair)")
    .option("--cert <file>", "TLS certificate (PEM)")
    .option("--key <file>", "TLS private key (PEM)")
    .option(
      "--api-token <token>",
      "require `Authorization: Bearer <token>` (default: $PRAAS_API_TOKEN)",
    )
    .option("--redis <url>", "keep metadata in Redis (e.g. redis://127.0.0.1:6379)")
    .option(
      "--store <kind>",
      "metadata without --redis: file (kept under --data-dir across restarts) or memory",
      "file",
    )
    .option("--backend <kind>", "where processes run: local or docker", "local")
    .option(
      "--docker-host <url>",
      "docker: the engine (default: $DOCKER_HOST, else the local socket)",
    )
    .option(
      "--control-plane-id <id>",
      "docker: this control plane's label on its containers (default: the host name)",
    )
    .option("--runtime-image <image>", "docker: the process image", "praas-runtime:latest")
    .option(
      "--network <name>",
      "docker: the network process containers join, e.g. a compose stack's (default: the bridge)",
    )
    .option("--data-dir <dir>", "bundles, swapped state and caches", ".praas")
    .option(
      "--s3-endpoint <url>",
      "keep blobs in this S3-compatible service (keys: $PRAAS_S3_ACCESS_KEY_ID, $PRAAS_S3_SECRET_ACCESS_KEY)",
    )
    .option("--s3-bucket <name>", "S3 bucket for blobs", "praas")
    .option("--s3-region <region>", "S3 region", "us-east-1")
    .option("--max-body <bytes>", "largest app tarball or invocation payload", "67108864")
    .option("--invocation-timeout <ms>", "how long an invocation may run (default 60000)")
    .option("--start-timeout <ms>", "how long a process may take to start (default 60000)")
    .option(
      "--reconnect-grace <ms>",
      "after a restart, how long processes recorded as active have to reconnect (default 30000)",
    )
    .option("--alarm-retry <ms>", "first retry delay of a failed alarm, doubling (default 1000)")
    .option(
      "--max-auto-processes <n>",
      "processes allocated per app for invocations without --process (default 4)",
    )
    .option(
      "--idle-swap <duration>",
      "swap processes out after this long unused (no invocation, message or client connection), e.g. 10m, 30s; 0: never; per process: process create --idle-swap",
      "10m",
    )
    .option(
      "--warm-pool <n>",
      "local backend: runtimes kept started so that create and resume only load the bundle; " +
        "they start at the default vcpus and --warm-pool-memory and follow the size in demand " +
        "(0: off; default 2)",
    )
    .option(
      "--warm-pool-memory <MiB>",
      "the warm pool's memory size until demand moves it (default: the default memory)",
    )
    .option("--deploy-examples", "deploy every application under examples/ at start")
    .option(
      "--error-stacks",
      "function errors returned to callers carry the stack trace (default: on with --backend local)",
    )
    .option("--no-error-stacks", "function errors returned to callers carry no stack trace")
    .option("--log-level <level>", "fatal|error|warn|info|debug", "info")
    .option("--json", "print the listening address as a JSON line");
  addNatOptions(up).action(async (flags: UpFlags) => {
    try {
      await runUp(flags);
    } catch (error) {
      printError(error);
      process.exit(1);
    }
  });
}

async function runUp(flags: UpFlags): Promise<void> {
  if (flags.backend !== "local" && flags.backend !== "docker")
    throw new PraaSError(
      "BAD_REQUEST",
      `backend ${flags.backend} is not available; use local or docker`,
    );
  // Loaded here, not at the top: the other commands should not pay for Fastify, Redis and S3.
  const { ControlPlane } = await import("../../control-plane/control-plane.js");
  const options = await upOptions(flags, process.env);
  const plane =
    flags.backend === "docker"
      ? await (
          await import("./docker-up.js")
        ).startWithDocker(options, dockerFlags(flags, process.env))
      : await ControlPlane.start(options);
  // Last line of defence: a rejection nobody handled is a bug to log, not a reason to take
  // every process's control plane down.
  process.on("unhandledRejection", (reason) => {
    plane.log.error({ err: String(reason) }, "unhandled rejection (a bug); still running");
  });
  const stop = (): void => {
    plane.log.info("stopping");
    void plane.stop().finally(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  if (flags.deployExamples) await deployExamples(plane);
  announce(plane, flags.json === true);
}

async function upOptions(flags: UpFlags, env: NodeJS.ProcessEnv): Promise<ControlPlaneOptions> {
  return {
    host: flags.host,
    port: portNumber(flags.port, "--port"),
    ...(flags.controlPort === undefined
      ? {}
      : { controlPort: portNumber(flags.controlPort, "--control-port") }),
    ...(flags.advertiseHost === undefined ? {} : { advertiseHost: flags.advertiseHost }),
    ...(flags.controlHost === undefined ? {} : { controlHost: flags.controlHost }),
    ...replicaOptions(flags),
    https: flags.https ? await tlsFiles(flags) : undefined,
    apiToken: flags.apiToken ?? env.PRAAS_API_TOKEN,
    dataDir: flags.dataDir,
    store: storeConfig(flags),
    ...(flags.s3Endpoint ? { blobs: s3Config(flags, env) } : {}),
    bodyLimitBytes: positiveInteger(flags.maxBody, "--max-body"),
    ...tuning(flags),
    ...(await natOptions(flags, env)),
    idleSwapMs: parseDuration(flags.idleSwap, "--idle-swap"),
    errorStacks: flags.errorStacks ?? flags.backend === "local",
    ...warmPool(flags),
    logLevel: flags.logLevel,
    // A person at a terminal reads lines; anything else (a file, a collector) gets JSON.
    logFormat: process.stderr.isTTY ? "pretty" : "json",
  };
}

function storeConfig(flags: UpFlags): MetadataStoreConfig {
  if (flags.redis) return { kind: "redis", url: flags.redis };
  if (flags.store === "memory") return { kind: "memory" };
  if (flags.store === "file") return { kind: "file", dir: path.join(flags.dataDir, "metadata") };
  throw new PraaSError("BAD_REQUEST", `--store must be file or memory, got ${flags.store}`);
}

/** Flags for running as one of several replicas on a shared store behind a proxy. */
function replicaOptions(
  flags: UpFlags,
): Pick<ControlPlaneOptions, "advertiseControl" | "replicaId" | "replicaAddress"> {
  return {
    ...(flags.advertiseControl ? { advertiseControl: flags.advertiseControl } : {}),
    ...(flags.replicaId ? { replicaId: flags.replicaId } : {}),
    ...(flags.replicaAddress ? { replicaAddress: flags.replicaAddress } : {}),
  };
}

function dockerFlags(flags: UpFlags, env: NodeJS.ProcessEnv): DockerUpFlags {
  return {
    dockerHost: flags.dockerHost ?? env.DOCKER_HOST,
    controlPlaneId: flags.controlPlaneId ?? hostname(),
    image: flags.runtimeImage ?? "praas-runtime:latest",
    network: flags.network,
  };
}

type Knob =
  | "invocationTimeoutMs"
  | "startTimeoutMs"
  | "reconnectGraceMs"
  | "alarmRetryMs"
  | "maxAutoProcesses";

/** The optional knobs; unset ones keep the control plane's defaults. */
function tuning(flags: UpFlags): Pick<ControlPlaneOptions, Knob> {
  const knobs: [string | undefined, string, Knob][] = [
    [flags.invocationTimeout, "--invocation-timeout", "invocationTimeoutMs"],
    [flags.startTimeout, "--start-timeout", "startTimeoutMs"],
    [flags.reconnectGrace, "--reconnect-grace", "reconnectGraceMs"],
    [flags.alarmRetry, "--alarm-retry", "alarmRetryMs"],
    [flags.maxAutoProcesses, "--max-auto-processes", "maxAutoProcesses"],
  ];
  const options: Pick<ControlPlaneOptions, Knob> = {};
  for (const [value, flag, option] of knobs) {
    if (value !== undefined) options[option] = positiveInteger(value, flag);
  }
  return options;
}

function warmPool(flags: UpFlags): Pick<ControlPlaneOptions, "warmPool" | "warmPoolMemoryMiB"> {
  return {
    ...(flags.warmPool === undefined
      ? {}
      : { warmPool: parseInteger(flags.warmPool, "--warm-pool", 0) }),
    ...(flags.warmPoolMemory === undefined
      ? {}
      : { warmPoolMemoryMiB: positiveInteger(flags.warmPoolMemory, "--warm-pool-memory") }),
  };
}

function s3Config(flags: UpFlags, env: NodeJS.ProcessEnv): BlobStoreConfig {
  return {
    kind: "s3",
    endpoint: flags.s3Endpoint,
    bucket: flags.s3Bucket ?? "praas",
    region: flags.s3Region,
    accessKeyId: env.PRAAS_S3_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.PRAAS_S3_SECRET_ACCESS_KEY ?? "",
  };
}

async function tlsFiles(flags: UpFlags): Promise<{ cert: Buffer; key: Buffer }> {
  if (!flags.cert || !flags.key)
    throw new PraaSError("BAD_REQUEST", "--https needs --cert and --key (try `praas certs`)");
  return { cert: await readFile(flags.cert), key: await readFile(flags.key) };
}

function portNumber(value: string, what: string): number {
  return parseInteger(value, what, 0, MAX_PORT);
}

function positiveInteger(value: string, what: string): number {
  return parseInteger(value, what, 1);
}

/** The examples shipped with PraaS, next to dist/ in the package. */
async function deployExamples(plane: ControlPlane): Promise<void> {
  const root = fileURLToPath(new URL("../../../examples/", import.meta.url));
  const { packDirectory } = await import("../../apps/index.js");
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const info = await plane.deployApp(
      entry.name,
      await packDirectory(path.join(root, entry.name)),
    );
    plane.log.info({ app: info.name, functions: info.functions }, "example deployed");
  }
}

function announce(plane: ControlPlane, json: boolean): void {
  const pool = plane.warmPool;
  const line = json
    ? JSON.stringify({
        event: "listening",
        url: plane.url,
        controlPort: plane.controlPort,
        replica: plane.config.replicaId,
        ...(plane.rendezvous ? { rendezvous: plane.rendezvous } : {}),
        warmPool: pool
          ? { size: pool.size, workers: pool.workers, memoryMiB: pool.memoryMiB }
          : null,
      })
    : `PraaS control plane listening on ${plane.url} (${warmPoolText(pool)}; Ctrl-C to stop)`;
  process.stdout.write(`${line}\n`);
}

function warmPoolText(pool: ControlPlane["warmPool"]): string {
  if (pool === undefined) return "warm pool off";
  const slot = `${pool.workers} worker${pool.workers === 1 ? "" : "s"}, ${pool.memoryMiB} MiB`;
  return `warm pool: ${pool.size} runtimes of ${slot}`;
}
