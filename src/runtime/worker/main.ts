/**
 * Entry of a worker subprocess: the process hands us our link on fd 3, its IPC channel on fd 4
 * and the socket for call notices on fd 5 (see serve.ts for what a worker does). User code
 * runs only in workers, never in the process's own event loop.
 *
 * argv: <bundle> <maxPayloadBytes>. The worker starts without user code and without the
 * application's environment: both come with the process's LOAD frame (the bundle file appears
 * at <bundle> only then), so a worker can be started ahead of time, in a warm pool, and still
 * end up exactly like one started for its process.
 */
import net from "node:net";
import { getHeapStatistics } from "node:v8";
import { isHandOff } from "./direct.js";
import { isPeerLinkAnswer, isPeerMoved } from "./peer-links.js";
import { WorkerServer } from "./serve.js";

const [bundlePath = "", maxPayload = "0"] = process.argv.slice(2);

const worker = new WorkerServer({
  socket: new net.Socket({ fd: 3, readable: true, writable: true }),
  noticeSocket: new net.Socket({ fd: 5, readable: false, writable: true }),
  bundlePath,
  application: "",
  processId: "",
  maxPayloadBytes: Number(maxPayload),
  // A sixteenth of the heap (the heap is this worker's share of the process's memory): the
  // cache only saves round trips. Beside state of up to half the memory in the process, a
  // larger one put a process filling its state over its memory limit before STATE_FULL.
  cacheBytes: Math.floor(getHeapStatistics().heap_size_limit / 16),
  captureConsole: true,
  exit: (code) => process.exit(code),
  // Our environment was only TMPDIR until now: the application's is added before its code loads.
  setEnv: (env) => void Object.assign(process.env, env),
  askProcess: (request) => void process.send?.(request),
});
process.on("uncaughtException", (error) => worker.crash(error));
process.once("SIGTERM", () => void worker.stop());
// The IPC channel carries client connections the process hands over, and connections to peer
// processes it opened for us (with their socket).
process.on("message", (message: unknown, socket?: net.Socket) => {
  if (isHandOff(message) && socket !== undefined) worker.adopt(message, socket);
  else if (isPeerLinkAnswer(message)) worker.peerLinkAnswered(message, socket);
  else if (isPeerMoved(message)) worker.peerMoved(message.peer);
});
