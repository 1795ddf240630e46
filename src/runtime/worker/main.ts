/**
 * Entry of a worker subprocess. The process hands us a socket on fd 3; we load the application
 * bundle, announce its functions (Ready), then run invocations as they arrive. Many invocations
 * may run at once: one that awaits `get` or `invoke` leaves the event loop free for the others.
 * User code runs only here, never in the process's own event loop.
 *
 * argv: <bundle> <application> <process> <maxPayloadBytes>
 */
import net from "node:net";
import { getHeapStatistics } from "node:v8";
import { pathToFileURL } from "node:url";
import {
  FrameType,
  PraaSError,
  decodeFields,
  encodeFields,
  functionErrorRecord,
  resultBytes,
  type Frame,
  type PraaSFunction,
} from "../../protocol/index.js";
import { FrameLink } from "../../transport/index.js";
import { createContext } from "./context.js";
import { StateCache } from "./state-cache.js";
import { StorageBudget } from "./storage-budget.js";

const [bundlePath = "", application = "", processId = "", maxPayloadText = "0"] =
  process.argv.slice(2);
const maxPayloadBytes = Number(maxPayloadText);
const functions = new Map<string, PraaSFunction>();
// A quarter of the heap at most: the cache only saves round trips, it must not cost an OOM.
const stateCache = new StateCache(
  Math.floor(getHeapStatistics().heap_size_limit / 4),
  maxPayloadBytes,
);

const link = new FrameLink(new net.Socket({ fd: 3, readable: true, writable: true }), {
  maxPayloadBytes,
  onRequest: (frame) => onRequest(frame),
  // The process is our only reason to live: when it goes, we go.
  onClose: () => process.exit(0),
});

process.on("uncaughtException", (error) => crash(error));
void load();

async function load(): Promise<void> {
  try {
    const module = (await import(pathToFileURL(bundlePath).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(module)) {
      if (typeof value === "function") functions.set(name, value as PraaSFunction);
    }
    link.send(FrameType.Ready, 0, encodeFields([...functions.keys()]));
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    exitWith(new PraaSError("BUILD_FAILED", `application failed to load: ${message}`));
  }
}

function onRequest(frame: Frame): void {
  // Answered at once: the process pings to tell a blocked event loop from a slow invocation.
  if (frame.type === FrameType.Ping) {
    link.reply(frame.id);
    return;
  }
  if (frame.type === FrameType.StateChanged) {
    stateCache.forget(decodeFields(frame.meta)[0] ?? "");
    return;
  }
  if (frame.type !== FrameType.Invoke) {
    link.replyError(frame.id, new PraaSError("PROTOCOL_ERROR", `worker got frame ${frame.type}`));
    return;
  }
  void run(frame);
}

async function run(frame: Frame): Promise<void> {
  const [functionName = "", invocationId = "", free = ""] = decodeFields(frame.meta);
  const fn = functions.get(functionName);
  if (fn === undefined) {
    link.replyError(frame.id, new PraaSError("FUNCTION_NOT_FOUND", `no function ${functionName}`));
    return;
  }
  const budget = new StorageBudget(
    free === "" ? Number.POSITIVE_INFINITY : Number(free),
    maxPayloadBytes,
  );
  const ctx = createContext(
    link,
    { invocationId, processId, application, functionName },
    stateCache,
    budget,
  );
  try {
    const result = await fn(frame.payload, ctx);
    await budget.settle();
    reply(frame.id, resultBytes(result));
  } catch (error) {
    link.replyError(frame.id, functionErrorRecord(error));
  }
}

function reply(id: number, bytes: Uint8Array): void {
  if (bytes.length > maxPayloadBytes) {
    const message = `result of ${bytes.length} bytes exceeds the limit of ${maxPayloadBytes} bytes`;
    link.replyError(id, new PraaSError("PAYLOAD_TOO_LARGE", message));
    return;
  }
  link.reply(id, bytes);
}

/** An error escaped every invocation (e.g. thrown in a timer): report it, then die. */
function crash(error: unknown): void {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  exitWith(new PraaSError("WORKER_CRASHED", `uncaught exception in worker: ${text}`));
}

function exitWith(error: PraaSError): void {
  link.replyError(0, error);
  link.flush();
  link.socket.end(() => process.exit(1));
  setTimeout(() => process.exit(1), 1000).unref();
}
