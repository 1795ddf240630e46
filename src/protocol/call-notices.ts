/**
 * The records of CallStarted and CallEnded frames: how a worker tells its process of the calls
 * it runs itself, many calls to a frame, in the payload. Fixed-width binary, not metadata
 * strings: a worker writes two records per call and the process reads them, so building,
 * encoding and parsing ten strings a call was a fifth of a small call's cost.
 *
 * Start: connection u32, request id u32, invocation number u32 (0: none), flags u8
 * (1: forwarded), function name length u16, the name (UTF-8).
 * End: connection u32, request id u32, seconds f64 (NaN: not timed), failed u8; when failed,
 * code length u16, code, message length u32, message (UTF-8).
 */
import { PraaSError } from "./errors.js";

export interface CallStartRecord {
  connection: number;
  requestId: number;
  fn: string;
  /** The worker's number for the invocation (see invocationIdOf); 0 when it has none. */
  invocation: number;
  /** Passed to the process's own pool rather than run by the worker. */
  forwarded: boolean;
}

export interface CallEndRecord {
  connection: number;
  requestId: number;
  /** How long the call ran, as the worker timed it. */
  seconds: number | undefined;
  error: NoticeError | undefined;
}

/** How a call failed, as far as its end record tells. */
export interface NoticeError {
  code: string;
  message: string;
}

/** A fresh buffer's size: a turn's records usually fit (a record is about 20 bytes). */
const FIRST_BYTES = 1024;
const START_BYTES = 15;
const END_BYTES = 17;
const FORWARDED = 1;
const MAX_MESSAGE_CHARS = 8192;

/** The invocation id a worker gives its `invocation`-th call; both ends build it the same way. */
export function invocationIdOf(processId: string, workerPid: number, invocation: number): string {
  return invocation === 0 ? "" : `${processId}-w${workerPid}-${invocation}`;
}

/** Records appended into one growing buffer; `take` hands over what was written. */
export class NoticeRecords {
  #bytes = Buffer.allocUnsafe(FIRST_BYTES);
  #used = 0;

  get empty(): boolean {
    return this.#used === 0;
  }

  start(
    connection: number,
    requestId: number,
    fn: string,
    invocation = 0,
    forwarded = false,
  ): void {
    const at = this.#reserve(START_BYTES + fn.length * 3);
    const bytes = this.#bytes;
    bytes.writeUInt32LE(connection, at);
    bytes.writeUInt32LE(requestId, at + 4);
    bytes.writeUInt32LE(invocation, at + 8);
    bytes[at + 12] = forwarded ? FORWARDED : 0;
    const length = bytes.write(fn, at + START_BYTES, "utf8");
    bytes.writeUInt16LE(length, at + 13);
    this.#used = at + START_BYTES + length;
  }

  end(connection: number, requestId: number, seconds?: number, error?: NoticeError): void {
    const message = error?.message.slice(0, MAX_MESSAGE_CHARS) ?? "";
    const room = error === undefined ? 0 : 6 + (error.code.length + message.length) * 3;
    const at = this.#reserve(END_BYTES + room);
    const bytes = this.#bytes;
    bytes.writeUInt32LE(connection, at);
    bytes.writeUInt32LE(requestId, at + 4);
    bytes.writeDoubleLE(seconds ?? Number.NaN, at + 8);
    bytes[at + 16] = error === undefined ? 0 : 1;
    this.#used = at + END_BYTES;
    if (error !== undefined) this.#writeError(error.code, message);
  }

  /**
   * The records written since the last take, handed over without a copy (the frame copies them
   * next to its header, or the socket holds them until written); later records go in a fresh
   * buffer.
   */
  take(): Buffer {
    const taken = this.#bytes.subarray(0, this.#used);
    this.#bytes = Buffer.allocUnsafe(FIRST_BYTES);
    this.#used = 0;
    return taken;
  }

  #writeError(code: string, message: string): void {
    const bytes = this.#bytes;
    let at = this.#used;
    const codeLength = bytes.write(code, at + 2, "utf8");
    bytes.writeUInt16LE(codeLength, at);
    at += 2 + codeLength;
    const messageLength = bytes.write(message, at + 4, "utf8");
    bytes.writeUInt32LE(messageLength, at);
    this.#used = at + 4 + messageLength;
  }

  /** The offset where `bytes` more fit, growing the buffer when they do not. */
  #reserve(bytes: number): number {
    const needed = this.#used + bytes;
    if (needed > this.#bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.#bytes.length * 2));
      this.#bytes.copy(grown, 0, 0, this.#used);
      this.#bytes = grown;
    }
    return this.#used;
  }
}

/** Each start record in `payload`, in order; PROTOCOL_ERROR when the bytes do not add up. */
export function readCallStarts(payload: Buffer, each: (record: CallStartRecord) => void): void {
  let at = 0;
  while (at < payload.length) {
    need(payload, at + START_BYTES);
    const end = at + START_BYTES + payload.readUInt16LE(at + 13);
    need(payload, end);
    each({
      connection: payload.readUInt32LE(at),
      requestId: payload.readUInt32LE(at + 4),
      invocation: payload.readUInt32LE(at + 8),
      forwarded: ((payload[at + 12] ?? 0) & FORWARDED) !== 0,
      fn: payload.toString("utf8", at + START_BYTES, end),
    });
    at = end;
  }
}

/** Each end record in `payload`, in order; PROTOCOL_ERROR when the bytes do not add up. */
export function readCallEnds(payload: Buffer, each: (record: CallEndRecord) => void): void {
  let at = 0;
  while (at < payload.length) {
    need(payload, at + END_BYTES);
    const seconds = payload.readDoubleLE(at + 8);
    const record: CallEndRecord = {
      connection: payload.readUInt32LE(at),
      requestId: payload.readUInt32LE(at + 4),
      seconds: Number.isNaN(seconds) ? undefined : seconds,
      error: undefined,
    };
    at += END_BYTES;
    if (payload[at - 1] !== 0) at = readError(payload, at, record);
    each(record);
  }
}

function readError(payload: Buffer, at: number, record: CallEndRecord): number {
  need(payload, at + 2);
  const codeEnd = at + 2 + payload.readUInt16LE(at);
  need(payload, codeEnd + 4);
  const messageEnd = codeEnd + 4 + payload.readUInt32LE(codeEnd);
  need(payload, messageEnd);
  const code = payload.toString("utf8", at + 2, codeEnd);
  record.error = { code, message: payload.toString("utf8", codeEnd + 4, messageEnd) };
  return messageEnd;
}

function need(payload: Buffer, end: number): void {
  if (end > payload.length) throw new PraaSError("PROTOCOL_ERROR", "truncated call notice");
}
