/**
 * The control-plane client: deploys applications and manages processes over the HTTP API.
 * Invocations through it are FaaS style (any or a sticky process); for many calls, open a
 * direct connection with `(await praas.getProcess(app, name)).connect()` instead.
 */
import {
  PROCESS_HEADER,
  type AppInfo,
  type AppMetricsSummary,
  type ConnectionInfo,
  type CreateProcessBody,
  type ProcessInfo,
  type ProcessListInfo,
  type ProcessStateInfo,
} from "../protocol/api.js";
import type { LogRecord } from "../protocol/logs.js";
import { assertName } from "../protocol/names.js";
import { PraaSError } from "../protocol/errors.js";
import { toBytes, type Value } from "../protocol/values.js";
import { HttpTransport } from "./http.js";
import { Process } from "./process.js";

export interface PraaSOptions {
  /** API token, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** PEM of the CA that signed the control plane's HTTPS certificate. */
  ca?: string | Buffer;
  /** Deadline for each response; default 5 minutes (deploys and process starts take a while). */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 300_000;

const EMPTY_PAYLOAD = new Uint8Array(0);

export interface InvokeOptions {
  /** Run in this process (resumed first if swapped); otherwise the control plane picks one. */
  process?: string;
  /**
   * With `process`: create it (with the application's defaults) when it does not exist, like
   * addressing a Durable Object by name. Off by default: a mistyped name is an error.
   */
  create?: boolean;
}

export interface InvocationResult {
  output: Uint8Array;
  /** The process that ran the function, as the control plane reported it. */
  process: string | undefined;
}

// Names are checked here as well as on the server: "." or ".." would be folded away by URL
// normalisation and reach a different route.
function appPath(app: string): string {
  assertName(app, "application");
  return `/apps/${encodeURIComponent(app)}`;
}

function processPath(app: string, name: string): string {
  assertName(name, "process");
  return `${appPath(app)}/processes/${encodeURIComponent(name)}`;
}

function functionSegment(fn: string): string {
  if (fn === "" || fn === "." || fn === "..") {
    throw new PraaSError("INVALID_NAME", `invalid function name ${JSON.stringify(fn)}`);
  }
  return encodeURIComponent(fn);
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export class PraaS {
  readonly #http: HttpTransport;

  constructor(url: string, options: PraaSOptions = {}) {
    this.#http = new HttpTransport(url, {
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
  }

  /** The control plane's URL, normalised. */
  get url(): string {
    return this.#http.baseUrl;
  }

  /** Packs `dir` (a gzip tarball) and creates or updates application `app` from it. */
  async deploy(app: string, dir: string): Promise<AppInfo> {
    const path = appPath(app);
    // Loaded here: packing pulls in tar, which clients that never deploy need not load.
    const { packDirectory } = await import("../apps/package.js");
    const tarball = await packDirectory(dir);
    return this.#http.sendJson({
      method: "PUT",
      path,
      body: tarball,
      contentType: "application/gzip",
    });
  }

  async listApplications(): Promise<AppInfo[]> {
    const { apps } = await this.#http.sendJson<{ apps: AppInfo[] }>({
      method: "GET",
      path: "/apps",
    });
    return apps;
  }

  async getApplication(app: string): Promise<AppInfo> {
    return this.#http.sendJson({ method: "GET", path: appPath(app) });
  }

  /**
   * Makes an earlier version current again (default: the one before the current), as a new
   * version; running processes move to it like to any new version (`upgrade`).
   */
  async rollback(app: string, options: { to?: number } = {}): Promise<AppInfo> {
    const body = JSON.stringify(options.to === undefined ? {} : { version: options.to });
    const path = `${appPath(app)}/rollback`;
    return this.#http.sendJson({ method: "POST", path, body, contentType: "application/json" });
  }

  /**
   * Sets a secret: an environment variable of the application's functions that is stored by
   * the control plane, not in the code, and never returned. Makes a new version, which
   * processes run once upgraded (or when they next start).
   */
  async setSecret(app: string, key: string, value: string): Promise<AppInfo> {
    const path = `${appPath(app)}/secrets/${encodeURIComponent(key)}`;
    return this.#http.sendJson({ method: "PUT", path, body: value, contentType: "text/plain" });
  }

  /** Removes a secret (NOT_FOUND when there is none); makes a new version. */
  async deleteSecret(app: string, key: string): Promise<AppInfo> {
    const path = `${appPath(app)}/secrets/${encodeURIComponent(key)}`;
    return this.#http.sendJson({ method: "DELETE", path });
  }

  /** Names of the application's secrets (values are never returned). */
  async listSecrets(app: string): Promise<string[]> {
    const path = `${appPath(app)}/secrets`;
    return (await this.#http.sendJson<{ secrets: string[] }>({ method: "GET", path })).secrets;
  }

  /** Refused with INVALID_STATE while the application has processes, unless `force`. */
  async deleteApplication(app: string, options: { force?: boolean } = {}): Promise<void> {
    const query = options.force === true ? "?force=true" : "";
    await this.#http.send({ method: "DELETE", path: appPath(app) + query });
  }

  /**
   * Creates a process and resolves once it is active. Missing resources and limits take the
   * app's defaults (limits per key); an unknown limit key is a BAD_REQUEST. `durability: "log"`
   * makes every acknowledged state write and message survive a crash of the process.
   */
  async createProcess(
    app: string,
    name: string,
    options: CreateProcessBody = {},
  ): Promise<Process> {
    const info = await this.#http.sendJson<ProcessInfo>({
      method: "PUT",
      path: processPath(app, name),
      body: JSON.stringify(options),
      contentType: "application/json",
    });
    return this.#handle(info);
  }

  async getProcess(app: string, name: string): Promise<Process> {
    return this.#handle(await this.#http.sendJson({ method: "GET", path: processPath(app, name) }));
  }

  /**
   * A connection description to dial now. For a process behind NAT it carries a single-use,
   * short-lived pairing ticket, and the process has been told to pair (`Process.connect()`
   * asks for one by itself).
   */
  async connectionInfo(app: string, name: string): Promise<ConnectionInfo> {
    return this.#http.sendJson({ method: "POST", path: `${processPath(app, name)}/connect` });
  }

  #handle(info: ProcessInfo): Process {
    return new Process(info, () => this.connectionInfo(info.app, info.name));
  }

  async listProcesses(app: string): Promise<ProcessListInfo> {
    return this.#http.sendJson({ method: "GET", path: `${appPath(app)}/processes` });
  }

  /** Swaps the process out; resolves once its state is stored (`stateSize` says how much). */
  async swap(app: string, name: string): Promise<ProcessInfo> {
    return this.#http.sendJson({ method: "POST", path: `${processPath(app, name)}/swap` });
  }

  /**
   * Moves an active process to its application's current version, state and undelivered
   * messages kept (a swap out and a resume); resolves once it runs the new code.
   */
  async upgrade(app: string, name: string): Promise<Process> {
    const path = `${processPath(app, name)}/upgrade`;
    return new Process(await this.#http.sendJson({ method: "POST", path }));
  }

  /** Swaps the process back in; resolves once it is active with its new connection. */
  async resume(app: string, name: string): Promise<Process> {
    const path = `${processPath(app, name)}/resume`;
    return this.#handle(await this.#http.sendJson({ method: "POST", path }));
  }

  /** Stops the process (if active) and deletes its stored state. */
  async deleteProcess(app: string, name: string): Promise<void> {
    await this.#http.send({ method: "DELETE", path: processPath(app, name) });
  }

  /** Invokes `fn` through the control plane; resolves to the function's output bytes. */
  async invoke(
    app: string,
    fn: string,
    payload: Value = EMPTY_PAYLOAD,
    options: InvokeOptions = {},
  ): Promise<Uint8Array> {
    return (await this.invokeDetailed(app, fn, payload, options)).output;
  }

  /** The keys of an active process's state with their value sizes (values stay in the process). */
  async processState(app: string, name: string): Promise<ProcessStateInfo> {
    return this.#http.sendJson({ method: "GET", path: `${processPath(app, name)}/state` });
  }

  /**
   * The application's invocation counters by process and function, cumulative: a rate is the
   * difference of two reads over the difference of their `at`.
   */
  async metricsSummary(app: string): Promise<AppMetricsSummary> {
    return this.#http.sendJson({ method: "GET", path: `${appPath(app)}/metrics` });
  }

  /** The application's recent function logs, oldest first (`since`: "5m", "30s" or an ISO time). */
  async logs(app: string, options: LogsOptions = {}): Promise<LogRecord[]> {
    const { body } = await this.#http.send({ method: "GET", path: logsPath(app, options, false) });
    return parseLogLines(body.toString("utf8"));
  }

  /**
   * The application's recent function logs, then every new line as it is written, until
   * `signal` aborts (the iteration then ends without an error).
   */
  async *followLogs(
    app: string,
    options: LogsOptions & { signal?: AbortSignal } = {},
  ): AsyncGenerator<LogRecord> {
    const path = logsPath(app, options, true);
    let partial = "";
    try {
      // Inside the try: an abort before the response began ends the iteration too.
      const body = await this.#http.stream({ method: "GET", path }, options.signal);
      for await (const chunk of body as AsyncIterable<Buffer>) {
        const lines = (partial + chunk.toString("utf8")).split("\n");
        partial = lines.pop() ?? "";
        yield* parseLogLines(lines.join("\n"));
      }
    } catch (error) {
      if (!options.signal?.aborted) throw error;
    }
  }

  /** Like {@link invoke}, and also says which process ran the function. */
  async invokeDetailed(
    app: string,
    fn: string,
    payload: Value = EMPTY_PAYLOAD,
    options: InvokeOptions = {},
  ): Promise<InvocationResult> {
    const { headers, body } = await this.#http.send({
      method: "POST",
      path: this.#invokePath(app, fn, options),
      body: toBytes(payload),
      contentType: "application/octet-stream",
    });
    const output = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    return { output, process: firstHeader(headers[PROCESS_HEADER]) };
  }

  /** Closes the keep-alive connections to the control plane. */
  close(): Promise<void> {
    return this.#http.close();
  }

  #invokePath(app: string, fn: string, { process, create }: InvokeOptions): string {
    const base = `${appPath(app)}/invoke/${functionSegment(fn)}`;
    if (process === undefined) return base;
    assertName(process, "process");
    const also = create === true ? "&create=true" : "";
    return `${base}?process=${encodeURIComponent(process)}${also}`;
  }
}

export interface LogsOptions {
  /** Only this process's lines. */
  process?: string;
  /** A duration back ("30s", "5m", "2h") or an ISO time. */
  since?: string;
}

function logsPath(app: string, options: LogsOptions, follow: boolean): string {
  const query = new URLSearchParams();
  if (options.process !== undefined) query.set("process", options.process);
  if (options.since !== undefined) query.set("since", options.since);
  if (follow) query.set("follow", "1");
  const text = query.toString();
  return `${appPath(app)}/logs${text === "" ? "" : `?${text}`}`;
}

function parseLogLines(text: string): LogRecord[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as LogRecord);
}
