/**
 * A backend for in-process control-plane tests. `start(spec)` spawns nothing: it opens a real
 * data-plane server (src/runtime/dataplane-server.ts) and dials the control plane with the real
 * runtime control-link client and the spec's secret, through a small TCP proxy the test can cut
 * or block. The process behind them is an in-memory fake (a key-value state, a few functions,
 * the control commands) whose behaviour each test scripts per process name. So the real
 * ControlLinkServer, Registrations, lifecycle table, metadata store and blob store all run.
 */
import net from "node:net";
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import {
  PraaSError,
  type ControlCommand,
  type ControlReply,
  type PeerChanges,
  type PeerEntry,
  type ProcessStateInfo,
} from "../../src/protocol/index.js";
import type {
  ExitInfo,
  ProcessBackend,
  ProcessSpec,
  StartedProcess,
} from "../../src/backends/backend.js";
import { ControlLink, type CommandHandlers } from "../../src/runtime/control-link.js";
import { DataPlaneServer } from "../../src/runtime/dataplane-server.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/runtime/snapshot.js";
import type { BlobStore } from "../../src/storage/index.js";

/** What a test scripts for one process name (or for every process, as the default). */
export interface FakeBehaviour {
  /** Runs first in `start`: delay it, or throw to make `start` reject. */
  beforeStart?(spec: ProcessSpec): Promise<void>;
  /** false: `start` resolves but the process never dials the control plane. */
  register?: boolean;
  /** Dial with this secret instead of the spec's. */
  secret?: string;
  /** Runs before the process answers a command: delay it, or throw to fail the command. */
  beforeCommand?(process: FakeProcess, name: ControlCommand): Promise<void>;
  /** Replaces the default functions (echo, set, get). */
  invoke?(process: FakeProcess, fn: string, payload: Buffer): Promise<Buffer>;
  /** `stop` cannot reach it (it runs where this backend has no hand: another host, a dead replica's). */
  unstoppable?: boolean;
}

export class FakeBackend implements ProcessBackend {
  readonly kind = "fake";
  readonly log = new LogCapture();
  readonly #blobs: BlobStore;
  readonly #processes = new Map<string, FakeProcess>();
  readonly #scripts = new Map<string, FakeBehaviour>();
  readonly #listeners: ((exit: ExitInfo) => void)[] = [];
  readonly #started: ((process: FakeProcess) => void)[] = [];
  #default: FakeBehaviour = {};
  #ids = 0;

  /** Processes swap into and restore from this store, as real processes do. */
  constructor(blobs: BlobStore) {
    this.#blobs = blobs;
  }

  /** Scripts the process named `name` (every later start of it), or every process. */
  script(name: string | undefined, behaviour: FakeBehaviour): void {
    if (name === undefined) this.#default = behaviour;
    else this.#scripts.set(name, behaviour);
  }

  /** The live process named `name`, if any. */
  process(name: string): FakeProcess | undefined {
    return [...this.#processes.values()].find((p) => p.spec.name === name && !p.exited);
  }

  /** Resolves with the next process that `start` brings up. */
  nextStart(): Promise<FakeProcess> {
    return new Promise((resolve) => this.#started.push(resolve));
  }

  async start(spec: ProcessSpec): Promise<StartedProcess> {
    const behaviour = this.#scripts.get(spec.name) ?? this.#default;
    await behaviour.beforeStart?.(spec);
    await spec.loadBundle();
    const backendId = `fake:${++this.#ids}`;
    const state = spec.restore ? await this.#restore(spec) : new Map<string, Buffer>();
    const proc = new FakeProcess(backendId, spec, behaviour, this.#blobs, state, (exit, report) =>
      this.#exited(exit, report),
    );
    this.#processes.set(backendId, proc);
    try {
      const port = await proc.serve(this.log.logger.child({ process: spec.name }));
      for (const notify of this.#started.splice(0)) notify(proc);
      return { backendId, host: "127.0.0.1", port };
    } catch (error) {
      await proc.exit(1, null, false); // a failed start leaves nothing running and reports no exit
      throw error;
    }
  }

  async stop(backendId: string): Promise<void> {
    const proc = this.#processes.get(backendId);
    if (proc === undefined || (this.#scripts.get(proc.spec.name) ?? this.#default).unstoppable)
      return;
    await proc.exit(null, "SIGTERM");
  }

  onExit(listener: (exit: ExitInfo) => void): void {
    this.#listeners.push(listener);
  }

  running(): string[] {
    return [...this.#processes.keys()];
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.running().map((id) => this.stop(id)));
  }

  /** Like the runtime: restore from the snapshot (the copy is deleted once the process serves). */
  async #restore(spec: ProcessSpec): Promise<Map<string, Buffer>> {
    const stream = await this.#blobs.get(snapshotKeyOf(spec));
    if (stream === undefined)
      throw new PraaSError("STORAGE_ERROR", `no swapped state at ${snapshotKeyOf(spec)}`);
    const snapshot = await decodeSnapshot(stream);
    return new Map(snapshot.state.map((entry) => [entry.key, entry.value]));
  }

  #exited(exit: ExitInfo, report: boolean): void {
    this.#processes.delete(exit.backendId);
    if (!report) return;
    for (const listener of this.#listeners) listener(exit);
  }
}

/** One fake cloud process: a real data-plane server and a real control link over a proxy. */
export class FakeProcess {
  readonly backendId: string;
  readonly spec: ProcessSpec;
  readonly state: Map<string, Buffer>;
  readonly proxy: LinkProxy;
  peers: PeerEntry[] = [];
  /** Directory pushes received: whole directories and changes. */
  readonly peerPushes = { whole: 0, changes: 0 };
  inflight = 0;
  exited = false;
  /** Resolves when the control plane refused a re-dial for a newer instance (it then exits). */
  readonly replaced: Promise<void>;
  #onReplaced: () => void = () => undefined;
  /** Like the runtime, a process refuses new invocations once a swap or stop has begun. */
  status: "active" | "swapping" | "stopped" = "active";
  readonly #behaviour: FakeBehaviour;
  readonly #blobs: BlobStore;
  readonly #onExit: (exit: ExitInfo, report: boolean) => void;
  readonly #dataPlane: DataPlaneServer;
  #control: ControlLink | undefined;
  #port = 0;

  constructor(
    backendId: string,
    spec: ProcessSpec,
    behaviour: FakeBehaviour,
    blobs: BlobStore,
    state: Map<string, Buffer>,
    onExit: (exit: ExitInfo, report: boolean) => void,
  ) {
    this.backendId = backendId;
    this.spec = spec;
    this.state = state;
    this.#behaviour = behaviour;
    this.#blobs = blobs;
    this.#onExit = onExit;
    this.replaced = new Promise((resolve) => (this.#onReplaced = resolve));
    this.proxy = new LinkProxy(spec.controlAddress);
    this.#dataPlane = new DataPlaneServer(
      {
        application: spec.app,
        process: spec.name,
        token: spec.token,
        maxPayloadBytes: spec.maxPayloadBytes ?? 1024 * 1024,
        peerSecret: spec.peerSecret ?? "",
        maxConnections: 64,
        maxInflightPerConnection: 1024,
        maxHelloBytes: 64 * 1024,
        writeBacklogBytes: 1024 * 1024,
        maxInflightBytesPerConnection: 16 * 1024 * 1024,
      },
      { invoke: (fn, payload) => this.#invoke(fn, payload), deliver: () => undefined },
    );
  }

  /** Opens the data plane, then (unless scripted not to) registers over the control link. */
  async serve(log: Logger): Promise<number> {
    this.#port = await this.#dataPlane.listen("127.0.0.1", 0);
    if (this.#behaviour.register === false) return this.#port;
    const proxyPort = await this.proxy.listen();
    this.#control = new ControlLink(
      {
        host: "127.0.0.1",
        port: proxyPort,
        secret: this.#behaviour.secret ?? this.spec.secret,
        application: this.spec.app,
        process: this.spec.name,
        orphanTimeoutMs: 60_000,
      },
      {
        endpoint: () => ({ host: "127.0.0.1", port: this.#port, token: this.spec.token }),
        commands: this.#commands(),
        afterReply: (name) => {
          if (name === "swap" || name === "stop") void this.exit(0, null);
        },
        orphaned: () => void this.exit(0, null),
        replaced: () => {
          this.#onReplaced();
          void this.exit(0, null);
        },
      },
      log,
    );
    await this.#control.connect();
    return this.#port;
  }

  /** The process ends (crash when `code` is not 0); the backend reports it through onExit. */
  async exit(code: number | null, signal: string | null, report = true): Promise<void> {
    if (this.exited) return;
    this.exited = true;
    this.#control?.close();
    await Promise.all([this.#dataPlane.close(), this.proxy.close()]);
    const { app, name } = this.spec;
    this.#onExit({ backendId: this.backendId, app, name, code, signal }, report);
  }

  #commands(): CommandHandlers {
    return {
      swap: (body) => this.#answer("swap", () => this.swapOut(body?.swapId)),
      stop: () =>
        this.#answer("stop", () => {
          this.status = "stopped";
          return Promise.resolve(null);
        }),
      pair: () => Promise.reject(new PraaSError("BAD_REQUEST", "the fake process cannot pair")),
      peers: (body) =>
        this.#answer("peers", () => {
          this.peerPushes[Array.isArray(body) ? "whole" : "changes"]++;
          this.peers = Array.isArray(body) ? body : patched(this.peers, body);
          return Promise.resolve(null);
        }),
      status: () =>
        this.#answer("status", () =>
          Promise.resolve({
            status: this.status,
            port: this.#port,
            workers: [],
            stateBytes: 0,
            stateKeys: this.state.size,
          }),
        ),
      state: () => this.#answer("state", () => Promise.resolve(this.#stateListing())),
    };
  }

  #stateListing(): ProcessStateInfo {
    const updatedAt = new Date().toISOString();
    const keys = [...this.state].map(([key, value]) => ({ key, size: value.length, updatedAt }));
    const totalBytes = keys.reduce((sum, entry) => sum + entry.size, 0);
    return { keys, totalKeys: keys.length, totalBytes };
  }

  async #answer<C extends ControlCommand>(
    name: C,
    answer: () => Promise<ControlReply<C>>,
  ): Promise<ControlReply<C>> {
    // Like the runtime, a swap refuses new invocations from its first moment.
    if (name === "swap") this.status = "swapping";
    await this.#behaviour.beforeCommand?.(this, name);
    return answer();
  }

  /** The default swap: the state goes to the blob store as a real snapshot. */
  async swapOut(swapId = ""): Promise<ControlReply<"swap">> {
    this.status = "swapping";
    const key = snapshotKeyOf(this.spec);
    const entries = [...this.state].map(([k, value]) => ({ key: k, value, updatedAt: 0 }));
    const stamp = { generation: 0, swapId };
    const { size } = await this.#blobs.put(key, encodeSnapshot(entries, [], undefined, stamp));
    return { size, key };
  }

  async #invoke(fn: string, payload: Buffer): Promise<Buffer> {
    if (this.status !== "active")
      throw new PraaSError("UNAVAILABLE", `the process is ${this.status}`);
    this.inflight++;
    try {
      if (this.#behaviour.invoke) return await this.#behaviour.invoke(this, fn, payload);
      return this.#builtin(fn, payload);
    } finally {
      this.inflight--;
    }
  }

  /** echo → the payload; set "k=v" → stores v under k; get "k" → the value of k. */
  #builtin(fn: string, payload: Buffer): Buffer {
    const text = payload.toString();
    if (fn === "echo") return payload;
    if (fn === "set") {
      const at = text.indexOf("=");
      this.state.set(text.slice(0, at), Buffer.from(text.slice(at + 1)));
      return Buffer.alloc(0);
    }
    if (fn === "get") return this.state.get(text) ?? Buffer.alloc(0);
    throw new PraaSError("FUNCTION_NOT_FOUND", `no function ${fn}`);
  }
}

/** A TCP proxy in front of the control plane's control port: tests cut or block the link. */
export class LinkProxy {
  readonly #target: { host: string; port: number };
  readonly #server = net.createServer((socket) => this.#accept(socket));
  readonly #sockets = new Set<net.Socket>();
  #blocked = false;

  constructor(address: string) {
    const at = address.lastIndexOf(":");
    this.#target = { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
  }

  listen(): Promise<number> {
    return new Promise((resolve) =>
      this.#server.listen(0, "127.0.0.1", () =>
        resolve((this.#server.address() as net.AddressInfo).port),
      ),
    );
  }

  /** Cuts every open connection (the process re-dials). */
  drop(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /** While blocked, every new connection is closed at once (the control plane is unreachable). */
  block(blocked: boolean): void {
    this.#blocked = blocked;
  }

  /** Stops listening; open connections end as their ends close them (no bytes lost). */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    if (this.#blocked) return void socket.destroy();
    const upstream = net.connect(this.#target.port, this.#target.host);
    for (const [a, b] of [
      [socket, upstream],
      [upstream, socket],
    ] as const) {
      this.#sockets.add(a);
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        this.#sockets.delete(a);
        b.end();
      });
    }
  }
}

/** JSON log lines from pino, kept in memory so tests can wait for a logged event. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  readonly #waiters = new Set<() => void>();
  readonly logger: Logger = pino(
    { level: "debug" },
    new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        for (const wake of this.#waiters) wake();
        done();
      },
    }),
  );

  /** Lines whose message is `msg` (and, when given, whose fields match `fields`). */
  find(msg: string, fields: Record<string, unknown> = {}): Record<string, unknown>[] {
    return this.lines.filter(
      (line) => line.msg === msg && Object.entries(fields).every(([k, v]) => line[k] === v),
    );
  }

  /** Resolves once `count` such lines have been logged; rejects after `timeoutMs`. */
  async waitFor(
    msg: string,
    fields: Record<string, unknown> = {},
    count = 1,
    timeoutMs = 10_000,
  ): Promise<void> {
    if (this.find(msg, fields).length >= count) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no log line "${msg}" ${JSON.stringify(fields)} in ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        if (this.find(msg, fields).length < count) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }
}

function snapshotKeyOf(spec: ProcessSpec): string {
  return `swaps/${spec.app}/${spec.name}`;
}

/** A directory after changes, as a real process applies them (runtime/peers.ts). */
function patched(entries: PeerEntry[], { changed, removed }: PeerChanges): PeerEntry[] {
  const next = new Map(entries.map((entry) => [entry.name, entry]));
  for (const name of removed) next.delete(name);
  for (const entry of changed) next.set(entry.name, entry);
  return [...next.values()];
}
