/**
 * Closing a served connection without losing an answer. The server tells the client that the
 * connection is going away (an ERROR with id 0); the client sends nothing more on it and closes
 * it once its calls are answered. A PING on such a connection is answered only once every call
 * read before it is: the client then knows that nothing it sent is still running, and a call
 * still unanswered was lost (as on a dead worker's connection, which answers PING the same way).
 * Closing under a call instead would lose the answer that says it never ran.
 */
import type { Socket } from "node:net";
import { PraaSError } from "../protocol/index.js";
import type { FrameLink } from "./frame-link.js";

/** The calls in flight on one served connection, and the PINGs waiting for them. */
export interface CallsOnLink {
  count: number;
  pings: number[];
}

/** The notice a stopping process (or worker) sends on every connection it serves. */
export const STOPPING = new PraaSError("UNAVAILABLE", "the process is stopping");

/** Answers PING `id` now if no call is in flight, else once the last one is answered. */
export function pingAfterCalls(link: FrameLink, calls: CallsOnLink, id: number): void {
  if (calls.count === 0) link.reply(id);
  else calls.pings.push(id);
}

/** Call when `calls.count` dropped to zero: answers the PINGs that waited. */
export function callsAnswered(link: FrameLink, calls: CallsOnLink): void {
  for (const id of calls.pings) link.reply(id);
  calls.pings = [];
}

/** Tells every link's client its connection is going away, now. */
export function sayGoodbye(links: Iterable<FrameLink>): void {
  for (const link of links) {
    link.replyError(0, STOPPING);
    link.flush();
  }
}

/** Resolves once `start`'s `done` runs, or after `ms`, whichever is first. */
export function waitUpTo(ms: number, start: (done: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, ms));
    start(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Resolves once everything written on `socket` went to the kernel (or it closed). */
export function writtenOut(socket: Socket): Promise<void> {
  if (socket.writableLength === 0 || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once("drain", resolve);
    socket.once("close", resolve);
  });
}
