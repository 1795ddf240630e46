/**
 * What a worker does, apart from where its link and its exit come from (main.ts): load the
 * application bundle, announce its functions (Ready), then run invocations as they arrive.
 * Many invocations may run at once: one that awaits `get` or `invoke` leaves the event loop
 * free for the others.
 */
import type { Socket } from "node:net";
import { pathToFileURL } from "node:url";
import {
  FrameType,
  PraaSError,
  decodeFields,
  encodeFields,
  functionErrorRecord,
  functionNotFound,
  exportedName,
  HTTP_HANDLER_CALL,
  resultBytes,
  type Frame,
  type PraaSFunction,
} from "../../protocol/index.js";
import { FrameLink } from "../../transport/index.js";
import { createContext } from "./context.js";
import { httpHandler } from "./http-handler.js";
import { captureConsole, runAs, sendLog } from "./log-capture.js";
import { StateCache } from "./state-cache.js";
import { StorageBudget } from "./storage-budget.js";

export interface WorkerOptions {
  /** The worker's end of its link to the process. */
  socket: Socket;
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
  #identity: Identity;
  #loading = false;

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
  }

  async load(): Promise<void> {
    this.#loading = true;
    try {
      const url = pathToFileURL(this.options.bundlePath).href;
      const module = (await import(url)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(module)) {
        if (typeof value === "function") this.#functions.set(name, value as PraaSFunction);
      }
      this.#link.send(FrameType.Ready, 0, encodeFields([...this.#functions.keys()]));
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.#exitWith(new PraaSError("BUILD_FAILED", `application failed to load: ${message}`));
    }
  }

  /** An error escaped every invocation (e.g. thrown in a timer): report it, then die. */
  crash(error: unknown): void {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.#exitWith(new PraaSError("WORKER_CRASHED", `uncaught exception in worker: ${text}`));
  }

  #onRequest(frame: Frame): void {
    // Answered at once: the process pings to tell a blocked event loop from a slow invocation.
    if (frame.type === FrameType.Ping) {
      this.#link.reply(frame.id);
    } else if (frame.type === FrameType.Load) {
      this.#onLoad(frame);
    } else if (frame.type === FrameType.StateChanged) {
      this.#cache.forget(decodeFields(frame.meta)[0] ?? "");
    } else if (frame.type === FrameType.Invoke) {
      void this.#run(frame);
    } else {
      const error = new PraaSError("PROTOCOL_ERROR", `worker got frame ${frame.type}`);
      this.#link.replyError(frame.id, error);
    }
  }

  /** The process assigns us: its identity and environment, then its code (once only). */
  #onLoad(frame: Frame): void {
    if (this.#loading) {
      this.#exitWith(new PraaSError("PROTOCOL_ERROR", "worker got a second LOAD"));
      return;
    }
    const [application = "", processId = "", durability = ""] = decodeFields(frame.meta);
    this.#identity = { application, processId, durable: durability === "durable" };
    this.options.setEnv?.(JSON.parse(frame.payload.toString("utf8")) as Record<string, string>);
    void this.load();
  }

  async #run(frame: Frame): Promise<void> {
    const [callName = "", invocationId = "", free = ""] = decodeFields(frame.meta);
    const functionName = exportedName(callName);
    const exported = this.#functions.get(functionName);
    const fn = callName === HTTP_HANDLER_CALL && exported ? httpHandler(exported) : exported;
    if (fn === undefined) {
      const error = functionNotFound("the application", functionName, this.#functions.keys());
      this.#link.replyError(frame.id, error);
      return;
    }
    const { application, processId, durable } = this.#identity;
    const { maxPayloadBytes } = this.options;
    const budget = new StorageBudget(
      free === "" ? Number.POSITIVE_INFINITY : Number(free),
      maxPayloadBytes,
    );
    const info = { invocationId, processId, application, functionName };
    const ctx = createContext(this.#link, info, this.#cache, budget, durable);
    await runAs({ functionName, invocationId }, async () => {
      try {
        const result = await fn(frame.payload, ctx);
        await budget.settle();
        this.#reply(frame.id, resultBytes(result));
      } catch (error) {
        this.#fail(frame.id, error);
      }
    });
  }

  /** A function that threw: its caller gets the error, the logs get its stack trace. */
  #fail(id: number, error: unknown): void {
    const record = functionErrorRecord(error);
    sendLog(this.#link, "error", `invocation failed: ${record.stack ?? errorText(record)}`);
    this.#link.replyError(id, record);
  }

  #reply(id: number, bytes: Uint8Array): void {
    const limit = this.options.maxPayloadBytes;
    if (bytes.length > limit) {
      const message = `result of ${bytes.length} bytes exceeds the limit of ${limit} bytes`;
      this.#link.replyError(id, new PraaSError("PAYLOAD_TOO_LARGE", message));
      return;
    }
    this.#link.reply(id, bytes);
  }

  #exitWith(error: PraaSError): void {
    this.#link.replyError(0, error);
    this.#link.flush();
    this.#link.socket.end(() => this.options.exit(1));
    setTimeout(() => this.options.exit(1), 1000).unref();
  }
}

function errorText(record: { code: string; message: string; errorName?: string }): string {
  return `${record.errorName ?? record.code}: ${record.message}`;
}
