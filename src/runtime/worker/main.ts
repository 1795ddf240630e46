/**
 * Entry of a worker subprocess: the process hands us our link on fd 3 (see serve.ts for what
 * a worker does). User code runs only in workers, never in the process's own event loop.
 *
 * argv: <bundle> <application> <process> <maxPayloadBytes> [durable|memory]
 */
import net from "node:net";
import { getHeapStatistics } from "node:v8";
import { isHandOff } from "./direct.js";
import { WorkerServer } from "./serve.js";

const [bundlePath = "", application = "", processId = "", maxPayload = "0", durability = ""] =
  process.argv.slice(2);

const worker = new WorkerServer({
  socket: new net.Socket({ fd: 3, readable: true, writable: true }),
  bundlePath,
  application,
  processId,
  maxPayloadBytes: Number(maxPayload),
  durable: durability === "durable",
  // A quarter of the heap at most: the cache only saves round trips, it must not cost an OOM.
  cacheBytes: Math.floor(getHeapStatistics().heap_size_limit / 4),
  captureConsole: true,
  exit: (code) => process.exit(code),
});
process.on("uncaughtException", (error) => worker.crash(error));
// The IPC channel carries client connections the process hands over (with their socket).
process.on("message", (message: unknown, socket?: net.Socket) => {
  if (isHandOff(message) && socket !== undefined) worker.adopt(message, socket);
});
void worker.load();
