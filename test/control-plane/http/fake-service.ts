/**
 * An in-memory test double of ControlPlaneService for the HTTP-adapter tests only (routing,
 * validation, status mapping, auth, limits, OpenAPI): it records every call and returns canned
 * records. End-to-end behaviour is tested against the real service elsewhere.
 */
import type {
  ControlPlaneService,
  HealthInfo,
  InvocationOutput,
} from "../../../src/control-plane/service.js";
import type { LogFilter } from "../../../src/control-plane/log-hub.js";
import type {
  AppInfo,
  AppMetricsSummary,
  ConnectionInfo,
  CreateProcessBody,
  LogRecord,
  ProcessInfo,
  ProcessListInfo,
  ProcessStateInfo,
} from "../../../src/protocol/index.js";

import { LogHub } from "../../../src/control-plane/log-hub.js";
import { processInfoJson, processListJson } from "../../../src/control-plane/process-list-json.js";

export interface Call {
  method: keyof ControlPlaneService;
  args: unknown[];
}

const NOW = "2024-01-01T00:00:00.000Z";

export function appInfo(name: string): AppInfo {
  return {
    name,
    version: 1,
    functions: ["add", "echo"],
    defaults: { vcpus: 1, memory: 128 },
    versions: [{ version: 1, functions: ["add", "echo"], deployedAt: NOW }],
    createdAt: NOW,
    updatedAt: NOW,
  };
}

export function processInfo(app: string, name: string, status = "active"): ProcessInfo {
  return {
    app,
    name,
    status: status as ProcessInfo["status"],
    resources: { vcpus: 1, memory: 128 },
    limits: {},
    durability: "memory",
    connection: { host: "127.0.0.1", port: 4100, token: "t0k" },
    createdAt: NOW,
    updatedAt: NOW,
  };
}

export class FakeService implements ControlPlaneService {
  readonly calls: Call[] = [];
  /** When set, every method (but health) rejects with it. */
  failWith: Error | undefined;

  private record<T>(method: keyof ControlPlaneService, args: unknown[], value: T): Promise<T> {
    this.calls.push({ method, args });
    return this.failWith === undefined ? Promise.resolve(value) : Promise.reject(this.failWith);
  }

  deployApp(name: string, tarball: Buffer): Promise<AppInfo> {
    return this.record("deployApp", [name, tarball], appInfo(name));
  }

  listApps(): Promise<AppInfo[]> {
    return this.record("listApps", [], [appInfo("a1"), appInfo("a2")]);
  }

  getApp(name: string): Promise<AppInfo> {
    return this.record("getApp", [name], appInfo(name));
  }

  rollbackApp(name: string, version?: number): Promise<AppInfo> {
    return this.record("rollbackApp", [name, version], { ...appInfo(name), version: 2 });
  }

  secretNames(app: string): Promise<string[]> {
    return this.record("secretNames", [app], ["TOKEN"]);
  }

  setSecret(app: string, key: string, value: string | undefined): Promise<AppInfo> {
    return this.record("setSecret", [app, key, value], { ...appInfo(app), secrets: [key] });
  }

  upgradeProcess(app: string, name: string): Promise<ProcessInfo> {
    return this.record("upgradeProcess", [app, name], { ...processInfo(app, name), version: 2 });
  }

  deleteApp(name: string, force: boolean): Promise<void> {
    return this.record("deleteApp", [name, force], undefined);
  }

  createProcess(app: string, name: string, body: CreateProcessBody): Promise<ProcessInfo> {
    return this.record("createProcess", [app, name, body], processInfo(app, name));
  }

  listProcesses(app: string): Promise<ProcessListInfo> {
    const swapped = { ...processInfo(app, "p2", "swapped"), stateSize: 42 };
    delete swapped.connection;
    const list = { active: [processInfo(app, "p1")], swapped: [swapped], failed: [] };
    return this.record("listProcesses", [app], list);
  }

  async listProcessesJson(app: string): Promise<Buffer> {
    const list = await this.listProcesses(app);
    const json = (infos: ProcessInfo[]) => infos.map((info) => Buffer.from(processInfoJson(info)));
    const { active, swapped, failed } = list;
    return processListJson({ active: json(active), swapped: json(swapped), failed: json(failed) });
  }

  getProcess(app: string, name: string): Promise<ProcessInfo> {
    return this.record("getProcess", [app, name], processInfo(app, name));
  }

  swapProcess(app: string, name: string): Promise<ProcessInfo> {
    const info = { ...processInfo(app, name, "swapped"), stateSize: 1234 };
    delete info.connection;
    return this.record("swapProcess", [app, name], info);
  }

  connectProcess(app: string, name: string): Promise<ConnectionInfo> {
    return this.record("connectProcess", [app, name], { host: "127.0.0.1", port: 1, token: "t" });
  }

  resumeProcess(app: string, name: string): Promise<ProcessInfo> {
    return this.record("resumeProcess", [app, name], processInfo(app, name));
  }

  deleteProcess(app: string, name: string): Promise<void> {
    return this.record("deleteProcess", [app, name], undefined);
  }

  /** Echoes the payload, reversed, so a test can tell output from input. */
  invoke(app: string, fn: string, payload: Buffer, process?: string): Promise<InvocationOutput> {
    const output = Buffer.from(payload).reverse();
    return this.record("invoke", [app, fn, payload, process], { process: process ?? "p1", output });
  }

  /** What `health` answers; a test sets it to see how the route maps a degraded one. */
  healthInfo: HealthInfo = {
    status: "ok",
    replica: "r1",
    store: "memory",
    storeStatus: "reachable",
    blobs: "disk",
    backend: "local",
  };

  health(): Promise<HealthInfo> {
    this.calls.push({ method: "health", args: [] });
    return Promise.resolve(this.healthInfo);
  }

  /** The real log hub behind the log routes: tests fill it with `hub.ingest`. */
  readonly hub = new LogHub();

  logs(app: string, filter: LogFilter): Promise<LogRecord[]> {
    return this.record("logs", [app, filter], this.hub.recent(app, filter));
  }

  processState(app: string, name: string): Promise<ProcessStateInfo> {
    const keys = [{ key: "sum", size: 2, updatedAt: NOW }];
    return this.record("processState", [app, name], { keys, totalKeys: 1, totalBytes: 2 });
  }

  metricsSummary(app: string): Promise<AppMetricsSummary> {
    const add = { function: "add", outcomes: { ok: 3 }, count: 3, latencySumSeconds: 0.003 };
    const processes = [{ process: "p1", functions: [add], inflight: 0 }];
    return this.record("metricsSummary", [app], { app, at: Date.parse(NOW), processes });
  }

  followLogs(app: string, filter: LogFilter, listener: (record: LogRecord) => void): () => void {
    this.calls.push({ method: "followLogs", args: [app, filter] });
    return this.hub.follow(app, filter, listener);
  }
}
