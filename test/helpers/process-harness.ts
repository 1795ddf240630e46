/**
 * Starts real cloud processes (dist/runtime/main.js as subprocesses on free loopback ports) and
 * plays the control plane's side of the control link, so tests can swap processes and feed
 * them a peer directory through the real protocol.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildApplication } from "../../src/apps/index.js";
import { afterAll, beforeAll } from "vitest";
import {
  FrameType,
  LOGS_REQUEST,
  decodeFields,
  encodeFields,
  type Frame,
  type LogBatch,
  type AppPermissions,
  type PraaSError,
} from "../../src/protocol/index.js";
import { launchProcess } from "../../src/runtime/launch.js";
import { allPids, commandLine, isAlive, killQuietly } from "../../src/runtime/proc-table.js";
import { connect, type ProcessConnection } from "../../src/sdk/index.js";
import { FrameLink } from "../../src/transport/index.js";

/**
 * A fresh directory under the run's temp dir. `remove` first kills whatever still runs from it
 * (a cloud process that outlived its control plane would write into it after the removal: its
 * command line names its bundle there), then deletes it.
 */
export async function makeTempDir(
  prefix: string,
): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `praas-${prefix}-`));
  const remove = async (): Promise<void> => {
    await killProcessesOf(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  return { dir, remove };
}

/** SIGKILLs the processes whose command line names something under `dir`; waits, bounded. */
async function killProcessesOf(dir: string): Promise<void> {
  const pids = allPids().filter((pid) => commandLine(pid).some((arg) => arg.includes(dir)));
  for (const pid of pids) killQuietly(pid);
  const deadline = Date.now() + 5_000;
  while (pids.some((pid) => isAlive(pid)) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Bundles a fixture application into `dir`; returns the bundle path. */
export async function bundleFixture(name: string, dir: string): Promise<string> {
  const built = await buildApplication(path.resolve("test/fixtures/apps", name));
  const file = path.join(dir, `${name}.mjs`);
  await writeFile(file, built.code);
  return file;
}

export interface StartOptions {
  app?: string;
  name: string;
  bundle: string;
  blobDir: string;
  workers?: number;
  memory?: number;
  timeoutMs?: number;
  maxPayload?: number;
  restore?: boolean;
  control?: FakeControlPlane;
  orphanTimeoutMs?: number;
  drainTimeoutMs?: number;
  token?: string;
  /** More flags for runtime/main.js (limits). */
  args?: string[];
  /** Default: one secret per application name, so processes of one app can message. */
  peerSecret?: string;
  appEnv?: Record<string, string>;
  permissions?: Partial<AppPermissions>;
}

export interface RunningProcess {
  name: string;
  host: string;
  port: number;
  token: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  connect(): Promise<ProcessConnection>;
  stop(): Promise<void>;
}

export async function startProcess(options: StartOptions): Promise<RunningProcess> {
  const launched = await launchProcess({
    application: options.app ?? "suite",
    name: options.name,
    bundlePath: options.bundle,
    blobs: { kind: "disk", root: options.blobDir },
    workers: options.workers ?? 1,
    memoryMiB: options.memory ?? 256,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.maxPayload === undefined ? {} : { maxPayloadBytes: options.maxPayload }),
    restore: options.restore ?? false,
    ...(options.orphanTimeoutMs === undefined ? {} : { orphanTimeoutMs: options.orphanTimeoutMs }),
    ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
    ...(options.control ? { control: `127.0.0.1:${options.control.port}` } : {}),
    token: options.token ?? `token-${options.name}`,
    ...(options.args ? { extraArgs: options.args } : {}),
    secret: `secret-${options.name}`,
    peerSecret: options.peerSecret ?? `peer-secret-${options.app ?? "suite"}`,
    ...(options.appEnv ? { appEnv: options.appEnv } : {}),
    ...(options.permissions ? { permissions: options.permissions } : {}),
  });
  const { child, exited } = launched;
  const info = { host: launched.host, port: launched.port, token: launched.token };
  return {
    name: options.name,
    ...info,
    child,
    exited,
    connect: () => connect(info),
    stop: () => stopChild(child, exited),
  };
}

const STOP_TIMEOUT_MS = 20_000;

/** SIGTERM, then SIGKILL if it has not exited in time: a hung stop fails, it does not hang. */
async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** The control plane's end of the control link, for runtime tests. */
export class FakeControlPlane {
  readonly #server = net.createServer((socket) => this.#accept(socket));
  readonly links = new Map<string, FrameLink>();
  readonly registrations: string[][] = [];
  readonly resumeRequests: string[] = [];
  /** The log batches processes sent (with their metrics), in arrival order. */
  readonly logBatches: { process: string; batch: LogBatch }[] = [];
  #waiters: (() => void)[] = [];
  port = 0;
  /** Answers a process's request to resume a swapped peer. */
  onResume: (peer: string) => Promise<void> = () => Promise.resolve();

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.port = (this.#server.address() as net.AddressInfo).port;
  }

  async command(process: string, name: string, payload?: unknown): Promise<unknown> {
    const link = await this.#linkOf(process);
    const body = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
    const reply = await link.request(FrameType.Command, encodeFields([name]), body, 30_000);
    return JSON.parse(reply.payload.toString("utf8")) as unknown;
  }

  async close(): Promise<void> {
    for (const link of this.links.values()) link.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Waits (bounded) until `process` has registered. */
  async #linkOf(process: string): Promise<FrameLink> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const link = this.links.get(process);
      if (link && !link.closed) return link;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`process ${process} never registered`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, left);
      });
    }
  }

  #accept(socket: net.Socket): void {
    const link = new FrameLink(socket, {
      maxPayloadBytes: 1 << 26,
      onRequest: (frame) => this.#onRequest(link, frame),
    });
  }

  #onRequest(link: FrameLink, frame: Frame): void {
    const fields = decodeFields(frame.meta);
    if (frame.type === FrameType.Register) {
      this.registrations.push(fields);
      this.links.set(fields[1] ?? "", link);
      link.reply(frame.id);
      for (const wake of this.#waiters.splice(0)) wake();
    } else if (frame.type === FrameType.Command && fields[0] === "resume") {
      this.resumeRequests.push(fields[1] ?? "");
      void this.onResume(fields[1] ?? "").then(() => link.reply(frame.id));
    } else if (frame.type === FrameType.Command && fields[0] === LOGS_REQUEST) {
      const process = [...this.links].find(([, l]) => l === link)?.[0] ?? "";
      const batch = JSON.parse(frame.payload.toString("utf8")) as LogBatch;
      this.logBatches.push({ process, batch });
      link.reply(frame.id);
    }
  }
}

export const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

/** The rejection of `promise` (a resolution fails the test), typed as the PraaSError it is. */
export function rejection(promise: Promise<unknown>): Promise<PraaSError> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error as PraaSError,
  );
}

export interface SuiteProcess {
  proc: RunningProcess;
  conn: ProcessConnection;
}

/**
 * Registers hooks that start one process of the runtime-suite fixture (and a connection to it)
 * before the file's tests and stop it afterwards. Fields are set once `beforeAll` has run.
 */
export function useSuiteProcess(options: Omit<StartOptions, "bundle" | "blobDir">): SuiteProcess {
  const suite = {} as SuiteProcess;
  let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
  beforeAll(async () => {
    temp = await makeTempDir(options.name);
    const bundle = await bundleFixture("runtime-suite", temp.dir);
    suite.proc = await startProcess({ ...options, bundle, blobDir: temp.dir });
    suite.conn = await suite.proc.connect();
  });
  afterAll(async () => {
    try {
      await suite.conn?.close();
    } finally {
      try {
        await suite.proc?.stop();
      } finally {
        await temp?.remove();
      }
    }
  });
  return suite;
}

/** Pids of this run's processes (PRAAS_TEST_RUN marker) whose command line contains `text`. */
export function runProcessesMatching(text: string): number[] {
  const marker = `PRAAS_TEST_RUN=${process.env.PRAAS_TEST_RUN ?? ""}`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0");
      if (environ.includes(marker) && cmdline.some((arg) => arg.includes(text))) pids.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Resolves the pids still matching `text` once none do, or after `timeoutMs`. */
export async function untilNoProcessMatches(text: string, timeoutMs = 15_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = runProcessesMatching(text);
    if (pids.length === 0 || Date.now() >= deadline) return pids;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
