/**
 * Reading a socket in the kernel, on and off. Node reads a socket's handle whenever the stream
 * wants data, and every read wakes the event loop; `pause()` only stops the stream once its
 * buffer fills. Stopping the handle itself means data waits in the kernel, costing the reader
 * nothing, until it starts the handle again. The handle is internal, but it is what
 * `child.send(socket)` itself hands over.
 */
import { Socket as NetSocket, type Socket, type SocketConstructorOpts } from "node:net";

interface StreamHandle {
  readStart?(): number;
  readStop?(): number;
  reading?: boolean;
}

/** Whether this socket's kernel reads can be stopped (a TCP or pipe socket's can). */
export function canStopKernelReads(socket: Socket): boolean {
  return typeof handleOf(socket)?.readStop === "function";
}

/**
 * Stops the handle now; `_read` becomes a no-op, or the stream would start it again after
 * the next chunk it takes.
 */
export function stopKernelReads(socket: Socket): void {
  const handle = handleOf(socket);
  socket._read = () => undefined;
  if (typeof handle?.readStop !== "function") return;
  handle.readStop();
  handle.reading = false;
}

/** Undoes `stopKernelReads`: the handle reads again, and the stream asks it for more as usual. */
export function startKernelReads(socket: Socket): void {
  const handle = handleOf(socket);
  delete (socket as Partial<Socket>)._read;
  if (typeof handle?.readStart !== "function" || handle.reading === true) return;
  handle.reading = true;
  handle.readStart();
}

/**
 * Reads a socket `stopKernelReads` stopped, through a new socket object on the same descriptor
 * (the old one is closed without closing the descriptor). For the process, after the worker it
 * handed the socket to died: it answers what the worker left unread.
 */
export function reclaim(socket: Socket): Socket {
  const holder = socket as unknown as { _handle: StreamHandle | null };
  const handle = holder._handle;
  holder._handle = null;
  socket.destroy();
  const options = { handle, readable: true, writable: true } as unknown as SocketConstructorOpts;
  return new NetSocket(options);
}

function handleOf(socket: Socket): StreamHandle | undefined {
  return (socket as unknown as { _handle?: StreamHandle | null })._handle ?? undefined;
}
