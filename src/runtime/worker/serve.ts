/**
 * What a worker does, apart from where its link and its exit come from (main.ts): load the
 * application bundle, announce its functions (Ready), then run invocations as they arrive.
 * Many invocations may run at once: one that awaits `get` or `invoke` leaves the event loop
 * free for the others.
 */
import type { Socket } from "node:net";
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import {
  FrameType,
  PraaSError,
  decodeFields,
  encodeFields,
  describeThrown,
  thrownByFunction,
  functionNotFound,
  exportedName,
  HTTP_HANDLER_CALL,
  REHEARSAL_FUNCTION,
  STORAGE_FREE_STEP_BYTES,
  GOODBYE_MS,
  resultBytes,
  type Context,
  type Frame,
  type PraaSFunction,
  overLimit,
  invocationIdOf,
  nextU32,
} from "../../protocol/index.js";
import { FrameLink } from "../../transport/index.js";
import { CallNotices } from "./call-notices.js";
import { createContext } from "./context.js";
import { DirectConnections, type HandOff } from "./direct.js";
import { LocalCalls, type LocalCallSettings } from "./local-calls.js";
import { PeerLinks, type PeerLinkAnswer, type PeerLinkRequest } from "./peer-links.js";
import { httpHandler } from "./http-handler.js";
import {
  captureConsole,
  runAs,
  sendLog,
  trackInvocations,
  type InvocationTag,
} from "./log-capture.js";
import { StateCache } from "./state-cache.js";
import { Intrinsics } from "./intrinsics.js";
import { StorageBudget } from "./storage-budget.js";
import { userErrorRecord } from "./user-stack.js";

/** How far this worker's count of the process's free storage may be off (see the step). */
const FREE_SLACK_BYTES = 2 * STORAGE_FREE_STEP_BYTES;

export interface WorkerOptions {
  /** The worker's end of its link to the process. */
  socket: Socket;
  /** Where call notices go, read by the process in sweeps; absent: on the link. */
  noticeSocket?: Socket;
  bundlePath: string;
  application: string;
  processId: string;
  maxPayloadBytes: number;
  /** The process logs writes: `state.put` resolves once the process acknowledged it. */
  durable?: boolean;
  /** Budget of the state cache. */
  cacheBytes: number;
  /** Send console.* as tagged Log frames (a real worker); in-process tests keep their console. */
  captureConsole?: boolean;
  /** Ends the worker (process.exit in a real one). */
  exit: (code: number) => void;
  /** Adds the application's environment, sent with LOAD (main.ts: to process.env). */
  setEnv?: (env: Record<string, string>) => void;
  /**
   * Asks the process, on the IPC channel, for a connection to a peer process; absent (no IPC
   * channel, as in in-process tests): messages and calls to peers go through the process.
   */
  askProcess?: (request: PeerLinkRequest) => void;
}

/** Who the worker runs for: from its options, or from the LOAD frame of a pre-started worker. */
interface Identity {
  application: string;
  processId: string;
  durable: boolean;
}

export class WorkerServer {
  readonly #functions = new Map<string, PraaSFunction>();
  readonly #cache: StateCache;
  readonly #link: FrameLink;
  readonly #notices: CallNotices;
  #identity: Identity;
  #loading = false;
  readonly #direct: DirectConnections;
  readonly #local: LocalCalls;
  readonly #peers: PeerLinks | undefined;
  /** Invocations running here, whoever sent them (the process, a connection, a function here). */
  #running = 0;
  /** Invocations this worker numbered itself (direct and local calls). */
  #invocations = 0;
  /** What state and mailbox may still take, as the process last said. */
  #free = Number.POSITIVE_INFINITY;
  #rehearsed = false;
  /** The built-ins as the bundle left them; set once it loaded. */
  #intrinsics: Intrinsics | undefined;
  #retiring = false;

  constructor(readonly options: WorkerOptions) {
    const { application, processId, durable = false } = options;
    this.#identity = { application, processId, durable };
    this.#cache = new StateCache(options.cacheBytes, options.maxPayloadBytes);
    this.#link = new FrameLink(options.socket, {
      maxPayloadBytes: options.maxPayloadBytes,
      onRequest: (frame) => this.#onRequest(frame),
      // The process is our only reason to live: when it goes, we go.
      onClose: () => options.exit(0),
    });
    // Before the bundle loads, so its top-level console output is captured too (untagged).
    if (options.captureConsole === true) captureConsole(this.#link);
    this.#notices = new CallNotices(this.#link, noticeLink(options));
    const host = {
      link: this.#link,
      notices: this.#notices,
      running: () => this.#running,
      // Answered only once the process applied the call's writes: its caller is not the process.
      run: (callName: string, payload: Buffer, id: string) =>
        this.#execute(callName, payload, id, this.#free, true),
      nextInvocation: () => (this.#invocations = nextU32(this.#invocations)),
      invocationId: (invocation: number) => this.#invocationId(invocation),
    };
    this.#direct = new DirectConnections({
      ...host,
      missing: (callName) => {
        const name = exportedName(callName);
        if (this.#functions.has(name)) return undefined;
        return functionNotFound("the application", name, this.#functions.keys());
      },
    });
    this.#local = new LocalCalls({
      ...host,
      maxPayloadBytes: options.maxPayloadBytes,
      has: (name) => this.#functions.has(name),
    });
    const ask = options.askProcess;
    this.#peers = ask && new PeerLinks(ask, options.maxPayloadBytes);
  }

  /** A pooled worker learns its process only with LOAD. */
  #invocationId(invocation: number): string {
    return invocationIdOf(this.#identity.processId, process.pid, invocation);
  }

  /** A client connection the process handed over (the IPC message and its socket). */
  adopt(handOff: HandOff, socket: Socket): void {
    this.#free = handOff.free;
    this.#direct.adopt(handOff, socket);
  }

  /** The process says `peer` moved or left. */
  peerMoved(peer: string): void {
    this.#peers?.moved(peer);
  }

  /** The process's answer to a request for a peer connection (the IPC message and its socket). */
  peerLinkAnswered(answer: PeerLinkAnswer, socket?: Socket): void {
    if (this.#peers) this.#peers.answered(answer, socket);
    else socket?.destroy();
  }

  async load(): Promise<void> {
    this.#loading = true;
    try {
      const url = pathToFileURL(this.options.bundlePath).href;
      const [module, logs] = await Promise.all([
        import(url) as Promise<Record<string, unknown>>,
        this.options.captureConsole === true && mentionsConsole(this.options.bundlePath),
      ]);
      if (logs) trackInvocations();
      for (const [name, value] of Object.entries(module)) {
        if (typeof value === "function") this.#functions.set(name, value as PraaSFunction);
      }
      this.#intrinsics = new Intrinsics();
      this.#link.send(FrameType.Ready, 0, encodeFields([...this.#functions.keys()]));
    } catch (error) {
      const message = thrownText(error);
      this.#exitWith(new PraaSError("BUILD_FAILED", `application failed to load: ${message}`));
    }
  }

  /** An error escaped every invocation (e.g. thrown in a timer): report it, then die. */
  crash(error: unknown): void {
    const text = thrownText(error);
    this.#exitWith(new PraaSError("WORKER_CRASHED", `uncaught exception in worker: ${text}`));
  }

  #onRequest(frame: Frame): void {
    // Answered at once: the process pings to tell a blocked event loop from a slow invocation.
    if (frame.type === FrameType.Ping) {
      this.#link.reply(frame.id);
      if (!this.#loading && !this.#rehearsed) void this.#rehearse();
    } else if (frame.type === FrameType.Load) {
      this.#onLoad(frame);
    } else if (frame.type === FrameType.StateChanged) {
      this.#cache.forget(decodeFields(frame.meta)[0] ?? "");
    } else if (frame.type === FrameType.Invoke) {
      void this.#run(frame);
    } else if (frame.type === FrameType.StorageFree) {
      this.#free = Number(decodeFields(frame.meta)[0] ?? "");
    } else if (frame.type === FrameType.Drain) {
      this.#direct.accepting = decodeFields(frame.meta)[0] !== "on";
      this.#link.reply(frame.id, undefined, [String(this.#notices.written)]);
    } else if (frame.type === FrameType.NoticesRead) {
      this.#link.reply(frame.id, undefined, [String(this.#notices.caughtUp())]);
    } else {
      const error = new PraaSError("PROTOCOL_ERROR", `worker got frame ${frame.type}`);
      this.#link.replyError(frame.id, error);
    }
  }

  /**
   * Runs one made-up call through the path every invocation takes, so that the first real one
   * does not pay for compiling it (several ms). Only a worker pinged before its LOAD does: a
   * warm slot's, waiting for a process (one started for its process gets LOAD first). The
   * function stays until LOAD, so the slot can also call it on a connection of its own. Node
   * loads some built-ins on first use, a few ms each: the timing of a direct call
   * (`performance`) and the require banner every bundle starts with (`node:module`'s
   * `createRequire`) are loaded and run here too.
   */
  async #rehearse(): Promise<void> {
    this.#rehearsed = true;
    performance.now();
    process.getBuiltinModule("node:module").createRequire(import.meta.url);
    this.#functions.set(REHEARSAL_FUNCTION, (input: Uint8Array) => input);
    try {
      await this.#execute(REHEARSAL_FUNCTION, Buffer.alloc(1), "rehearsal", this.#free);
    } catch {
      // Only a rehearsal: the real calls report their own errors.
    }
  }

  /** The process assigns us: its identity and environment, then its code (once only). */
  #onLoad(frame: Frame): void {
    if (this.#loading) {
      this.#exitWith(new PraaSError("PROTOCOL_ERROR", "worker got a second LOAD"));
      return;
    }
    this.#functions.delete(REHEARSAL_FUNCTION);
    const [application = "", processId = "", durability = "", local = ""] = decodeFields(
      frame.meta,
    );
    this.#identity = { application, processId, durable: durability === "durable" };
    if (local !== "") this.#local.settings = JSON.parse(local) as LocalCallSettings;
    this.options.setEnv?.(JSON.parse(frame.payload.toString("utf8")) as Record<string, string>);
    void this.load();
  }

  async #run(frame: Frame): Promise<void> {
    const [callName = "", invocationId = "", free = ""] = decodeFields(frame.meta);
    if (free !== "") this.#free = Number(free);
    try {
      const bytes = await this.#execute(callName, frame.payload, invocationId, this.#free);
      this.#link.reply(frame.id, bytes);
    } catch (error) {
      this.#link.replyError(frame.id, userErrorRecord(error));
    }
  }

  /**
   * Runs one invocation to its result bytes; rejects with what its caller should be told (a
   * function's own throw is logged here, with its stack, tagged with the invocation).
   */
  async #execute(
    callName: string,
    payload: Buffer,
    invocationId: string,
    free: number,
    direct = false,
  ): Promise<Uint8Array> {
    const functionName = exportedName(callName);
    const fn = this.#callable(callName);
    const { application, processId, durable } = this.#identity;
    const budget = new StorageBudget(free, this.options.maxPayloadBytes, FREE_SLACK_BYTES);
    const info = { invocationId, processId, application, functionName };
    const ctx = createContext(
      this.#link,
      info,
      this.#cache,
      budget,
      durable,
      this.#local,
      this.#peers,
    );
    const call: Call = { tag: { functionName, invocationId }, budget, direct };
    this.#running++;
    let result: unknown;
    try {
      result = await runAs(call.tag, () => this.#call(fn, payload, ctx, call));
    } finally {
      this.#running--;
      // Before its answer is encoded: any call may have changed them meanwhile, not only this.
      this.#checkIntrinsics(functionName);
    }
    return this.#checkedSize(resultBytes(result));
  }

  /**
   * A function changed a built-in every call relies on: this worker can no longer be trusted
   * to answer right. Put them back for what it still runs, and ask the process to replace it
   * (it stops us gracefully). Which call did it is not known: any of those running.
   */
  #checkIntrinsics(functionName: string): void {
    const changed = this.#retiring ? undefined : this.#intrinsics?.changed();
    if (changed === undefined) return;
    this.#retiring = true;
    // Our own code (frames, results) needs them too, until the process stops us.
    if (this.#intrinsics?.restore() !== true) this.options.exit(1);
    const text = `the built-in ${changed} was changed (found as ${functionName} ended); replacing this worker`;
    this.#link.send(FrameType.Retire, 0, encodeFields([changed, functionName]));
    sendLog(this.#link, "error", text);
  }

  /** Runs the function; one that threw: its caller gets the error, the logs get its stack trace. */
  async #call(fn: PraaSFunction, payload: Buffer, ctx: Context, call: Call): Promise<unknown> {
    try {
      const value = await fn(payload, ctx);
      // A direct answer reaches the client without passing the process: its writes must be
      // applied there (and other workers told) first.
      await call.budget.settle(call.direct);
      return value;
    } catch (error) {
      const record = userErrorRecord(error);
      const text = `invocation failed: ${record.stack ?? errorText(record)}`;
      sendLog(this.#link, "error", text, call.tag);
      throw thrownByFunction(error);
    }
  }

  #callable(callName: string): PraaSFunction {
    const functionName = exportedName(callName);
    const exported = this.#functions.get(functionName);
    if (exported === undefined)
      throw functionNotFound("the application", functionName, this.#functions.keys());
    if (callName !== HTTP_HANDLER_CALL) return exported;
    return httpHandler(exported, this.options.maxPayloadBytes);
  }

  #checkedSize(bytes: Uint8Array): Uint8Array {
    const limit = this.options.maxPayloadBytes;
    if (bytes.length > limit) throw overLimit(`result of ${bytes.length} bytes`, limit);
    return bytes;
  }

  /**
   * The process stops us (SIGTERM: swap, delete, shutdown): every client learns its connection
   * is going away and every answer is sent before we exit, so a call refused as never run is
   * not mistaken for one lost with the worker.
   */
  async stop(): Promise<void> {
    await this.#direct.stop(GOODBYE_MS);
    this.#notices.flushEnds();
    this.#link.flush();
    this.options.exit(0);
  }

  #exitWith(error: PraaSError): void {
    this.#link.replyError(0, error);
    this.#link.flush();
    this.#link.socket.end(() => this.options.exit(1));
    setTimeout(() => this.options.exit(1), 1000).unref();
  }
}

/** One invocation as #call runs it. */
interface Call {
  tag: InvocationTag;
  budget: StorageBudget;
  /** Answered without passing the process: wait for the process to apply its writes. */
  direct: boolean;
}

/** An error as "Name: message"; anything else thrown as describeThrown shows it. */
function thrownText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : describeThrown(error);
}

function errorText(record: { code: string; message: string; errorName?: string }): string {
  return `${record.errorName ?? record.code}: ${record.message}`;
}

/** The link of the notice socket (write-only: nothing is read from it). */
function noticeLink(options: WorkerOptions): FrameLink | undefined {
  if (options.noticeSocket === undefined) return undefined;
  return new FrameLink(options.noticeSocket, {
    maxPayloadBytes: options.maxPayloadBytes,
    onRequest: () => undefined,
  });
}

/**
 * Whether the bundle names `console` anywhere (itself or a dependency in it). Unreadable: yes,
 * to be safe (and the import says why it failed).
 */
async function mentionsConsole(bundlePath: string): Promise<boolean> {
  return (await readFile(bundlePath, "latin1").catch(() => "console")).includes("console");
}
