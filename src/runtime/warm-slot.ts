/**
 * A warm-pool slot: what a cloud process would start first, started before anyone asked for
 * it — the sandbox directory (scratch dir, owner, network namespace) and the workers, booted,
 * under their heap limit and permission flags, but with no user code and no environment of any
 * application — and a data-plane listener on the loopback (where the local backend's
 * processes listen), which turns away anyone who connects before the slot is assigned. A
 * process assigned to the slot (runtime/main.ts `--warm`) installs its bundle where the workers
 * may read it, sends them LOAD and takes the listener over; from then on it is the same as a
 * process started from scratch. A slot serves one process only: it is never handed to another.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  FrameType,
  REHEARSAL_FUNCTION,
  encodeFields,
  type AppPermissions,
} from "../protocol/index.js";
import { openBlobStore } from "../storage/index.js";
import { connectFrameLink } from "../transport/index.js";
import type { ProcessConfig } from "./config.js";
import { DataPlaneServer, type HandedConnection } from "./dataplane-server.js";
import type { Cgroup } from "./memory-guard.js";
import type { SlotOptions, SpawnedSlot } from "./slot-spawn.js";
import { encodeSnapshot, readStoredSnapshot } from "./snapshot.js";
import { WorkerHandle } from "./worker-handle.js";
import type { HandOff } from "./worker/direct.js";
import type { WorkerSandbox } from "./worker-sandbox.js";

/** How long a pre-started worker may take to boot (answer its first ping). */
const BOOT_TIMEOUT_MS = 30_000;
/** Where the listener made ahead listens: the local backend's processes listen there. */
const LISTEN_AHEAD_HOST = "127.0.0.1";

export class WarmSlot {
  readonly options: SlotOptions;
  readonly sandbox: WorkerSandbox;
  /** Made before the workers start, so they are in it from birth; its limit is set at assignment. */
  readonly #cgroup: Cgroup | undefined;
  readonly #workers: WorkerHandle[];
  #listener: net.Server | undefined;

  private constructor(spawned: SpawnedSlot) {
    this.options = spawned.options;
    this.sandbox = spawned.slot.sandbox;
    this.#cgroup = spawned.cgroup;
    this.#workers = spawned.workers.map((worker) => new WorkerHandle(spawned.slot, worker));
  }

  /**
   * Boots the workers of a slot spawned (slot-spawn.ts) and makes its listener; with
   * `rehearse` (a slot started ahead of its assignment), rehearses what its process will do
   * first. Rejects, leaving nothing, when a worker does not boot.
   */
  static async start(spawned: SpawnedSlot, rehearse: boolean): Promise<WarmSlot> {
    const slot = new WarmSlot(spawned);
    try {
      await slot.#boot();
      slot.#listener = await listenAhead().catch(() => undefined); // then the process listens
      if (rehearse) await slot.#rehearse();
      return slot;
    } catch (error) {
      await slot.discard();
      throw error;
    }
  }

  get cgroup(): Cgroup | undefined {
    return this.#cgroup;
  }

  get workers(): readonly WorkerHandle[] {
    return this.#workers;
  }

  get pids(): number[] {
    return this.#workers.flatMap((w) => (w.pid === undefined ? [] : [w.pid]));
  }

  /**
   * The listener made ahead, for a process that listens where it does (any port); undefined
   * otherwise, and then it is closed. Given once.
   */
  takeListener(host: string, port: number): net.Server | undefined {
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener === undefined || (host === LISTEN_AHEAD_HOST && port === 0)) return listener;
    listener.close();
    return undefined;
  }

  /** Why a process with `config` cannot take this slot; undefined when it can. */
  misfit(config: ProcessConfig): string | undefined {
    const o = this.options;
    if (config.workers !== o.workers) return `${config.workers} workers, the slot has ${o.workers}`;
    if (config.memoryMiB !== o.memoryMiB)
      return `${config.memoryMiB} MiB, the slot has ${o.memoryMiB} MiB`;
    if (config.maxPayloadBytes !== o.maxPayloadBytes) return "another payload limit";
    const granted = (p: Readonly<AppPermissions>): string[] =>
      Object.keys(p).filter((name) => p[name as keyof AppPermissions]);
    // No localeCompare: its first call loads ICU collation data, tens of ms at assignment.
    if (granted(config.permissions).sort().join() !== granted(o.permissions).sort().join())
      return "other permissions";
    return undefined;
  }

  /** Stops the workers and removes the sandbox (the slot was never assigned). */
  async discard(): Promise<void> {
    this.#listener?.close();
    await Promise.all(this.#workers.map((w) => w.stop(0)));
    this.#cgroup?.remove();
    await this.sandbox.remove();
  }

  async #boot(): Promise<void> {
    // A worker answers a ping once its event loop runs: Node is up and its modules are loaded.
    const booted = await Promise.all(this.#workers.map((w) => w.probe(BOOT_TIMEOUT_MS)));
    if (booted.includes(false)) throw new Error("a pre-started worker did not boot");
  }

  /** Only rehearsals: what fails here is the real thing's to report. */
  async #rehearse(): Promise<void> {
    await rehearseRestore().catch(() => undefined);
    for (const worker of this.#workers)
      await rehearseConnection(worker, this.options.maxPayloadBytes).catch(() => undefined);
  }
}

/**
 * A data-plane listener made before there is a process to serve (its first listen costs a few
 * ms of a start). Until a process takes it over, whoever connects is closed at once.
 */
function listenAhead(): Promise<net.Server> {
  const server = net.createServer({ noDelay: true }, (socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, LISTEN_AHEAD_HOST, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/**
 * Stores a small snapshot in a disk blob store and reads it back the way a resume does
 * (one read, decoded): the first run of that code costs about 10 ms of CPU, paid here rather
 * than by the resume that takes this slot.
 */
async function rehearseRestore(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "praas-rehearsal-"));
  const blobs = await openBlobStore({ kind: "disk", root: dir });
  try {
    const entry = { key: "rehearsal", updatedAt: 0, value: Buffer.alloc(1024) };
    await blobs.put("rehearsal", encodeSnapshot([entry], []));
    await readStoredSnapshot(blobs, "rehearsal");
  } finally {
    await blobs.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** How long the rehearsed connection may take, end to end (it is only a rehearsal). */
const REHEARSAL_TIMEOUT_MS = 5_000;
/**
 * Calls made on the rehearsed connection: enough for V8 to compile the call path past its
 * interpreter, so that the calls after the first are fast too (the second, third and fourth
 * took 0.5, 0.35, 0.3 ms instead of 1, 0.6, 0.5 on a 2-core VM). It makes a slot's start
 * a few tens of ms longer, in the background.
 */
const REHEARSED_CALLS = 20;
/** The rehearsed connection's number on the worker link (the pool numbers its own from 1). */
const REHEARSAL_CONNECTION = 0;

/**
 * Serves one made-up client connection the way the process will serve its first: a data-plane
 * server accepts it, checks its HELLO (a throwaway token, on a port of its own), answers
 * WELCOME and hands it to `worker`, which answers REHEARSED_CALLS calls of the function it has
 * until LOAD, then the client closes it. The first run of that code, here and in the worker,
 * costs several ms; paid here rather than by the first client's connect and calls. The calls'
 * notices are read before the slot can be taken, so none of them reaches the process that
 * takes it.
 */
async function rehearseConnection(worker: WorkerHandle, maxPayloadBytes: number): Promise<void> {
  const token = randomBytes(18).toString("base64url");
  let released!: () => void;
  const gone = new Promise<void>((resolve) => (released = resolve));
  const server = new DataPlaneServer(rehearsalOptions(token, maxPayloadBytes), {
    invoke: () => Promise.reject(new Error("only a rehearsal")),
    deliver: () => Promise.reject(new Error("only a rehearsal")),
    handOff: (connection) => {
      worker.handOff(connection.socket, rehearsalHandOff(connection, maxPayloadBytes), released);
      return true;
    },
    handedOff: () => 0,
  });
  const timer = setTimeout(released, REHEARSAL_TIMEOUT_MS);
  try {
    const port = await server.listen(LISTEN_AHEAD_HOST, 0);
    const dialled = { host: LISTEN_AHEAD_HOST, port, token, timeoutMs: REHEARSAL_TIMEOUT_MS };
    const { link } = await connectFrameLink(dialled);
    const call = encodeFields([REHEARSAL_FUNCTION]);
    for (let i = 0; i < REHEARSED_CALLS; i++)
      await link.request(FrameType.Invoke, call, Buffer.alloc(1)).catch(() => undefined);
    link.close();
    await gone; // the worker let go of it: its connection number is free again
    await worker.drain(false); // the calls' notices, their ends included, are read
  } finally {
    clearTimeout(timer);
    await server.close();
  }
}

function rehearsalOptions(token: string, maxPayloadBytes: number) {
  const name = "rehearsal";
  return {
    application: name,
    process: name,
    token,
    peerSecret: "",
    maxPayloadBytes,
    maxConnections: 1,
    maxInflightPerConnection: 1,
    maxHelloBytes: 64 * 1024,
    writeBacklogBytes: 1024 * 1024,
    maxInflightBytesPerConnection: maxPayloadBytes,
    workers: 1,
  };
}

/** What the pool sends with a client connection (worker-pool.ts `handOff`), made up. */
function rehearsalHandOff(connection: HandedConnection, maxPayloadBytes: number): HandOff {
  return {
    kind: "praas-connection",
    connection: REHEARSAL_CONNECTION,
    rest: connection.detach().toString("base64"),
    serialize: false,
    free: 0,
    errorStacks: false,
    limits: {
      maxPayloadBytes,
      maxInflight: 1,
      maxInflightPerConnection: 1,
      maxInflightBytesPerConnection: maxPayloadBytes,
      writeBacklogBytes: 1024 * 1024,
      invocationTimeoutMs: REHEARSAL_TIMEOUT_MS,
    },
  };
}
