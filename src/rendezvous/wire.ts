/** Writing rendezvous frames, and reading the fields of the one frame type a step expects. */
import type { Socket } from "node:net";

import {
  FrameType,
  PraaSError,
  decodeFields,
  encodeFields,
  encodeFrame,
  frameTypeName,
  type ErrorRecord,
  type Frame,
} from "../protocol/index.js";
import { decodeErrorFrame, encodeErrorRecord } from "../transport/index.js";

export function writeFrame(
  socket: Socket,
  type: FrameType,
  id: number,
  fields: readonly string[],
): void {
  if (socket.destroyed || socket.writableEnded) return;
  for (const part of encodeFrame(type, id, encodeFields(fields))) socket.write(part);
}

/** Sends the error, then closes; a peer that never reads is dropped after `lingerMs`. */
export function refuse(socket: Socket, id: number, error: ErrorRecord, lingerMs = 2_000): void {
  if (!socket.destroyed && !socket.writableEnded) {
    for (const part of encodeFrame(FrameType.Error, id, encodeErrorRecord(error))) {
      socket.write(part);
    }
    socket.end();
  }
  setTimeout(() => socket.destroy(), lingerMs).unref();
}

/** The frame's fields when it has the expected type; an Error frame becomes its error. */
export function expectFrame(frame: Frame, type: FrameType): string[] {
  if (frame.type === FrameType.Error) throw decodeErrorFrame(frame);
  if (frame.type !== type) {
    throw new PraaSError("PROTOCOL_ERROR", `unexpected ${frameTypeName(frame.type)} frame`);
  }
  return decodeFields(frame.meta);
}
