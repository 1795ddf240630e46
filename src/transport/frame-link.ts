/**
 * A socket that carries PraaS frames in both directions: batched writes, an incremental parser,
 * and request/reply matching by id. Used by every binary link (data plane, peers, worker IPC,
 * control link); the link type decides which requests it answers, through `onRequest`.
 */
import type { Socket } from "node:net";
import { stopKernelReads } from "./kernel-reads.js";
import {
  FrameParser,
  FrameType,
  PraaSError,
  decodeFields,
  encodeFields,
  encodeFrame,
  type ErrorRecord,
  type Frame,
  type FrameHeader,
  overLimit,
  nextU32,
} from "../protocol/index.js";

export interface FrameLinkOptions {
  maxPayloadBytes: number;
  /**
   * Backpressure: with more unsent bytes than this queued on the socket, stop reading it until
   * the peer has taken them ('drain'), so a peer that sends requests but never reads replies
   * fills its own kernel buffers instead of our memory. Only for the serving end of a link
   * whose other end always reads (data-plane connections): two ends that both stop reading
   * while their writes back up would wait for each other forever.
   */
  writeBacklogBytes?: number;
  /**
   * Empty replies written in the same tick leave as one Results frame listing their ids, in
   * their place among the other frames. Only towards a peer that reads Results frames (every
   * FrameLink does; the SDK of an older release might not): the process's links to its workers,
   * where a committed batch of durable puts is acknowledged with one frame instead of one each.
   */
  coalesceEmptyReplies?: boolean;
  /** A frame that is not a reply to one of our requests. */
  onRequest(frame: Frame, link: FrameLink): void;
  /**
   * A frame over the payload cap, after its PAYLOAD_TOO_LARGE reply was queued (requests) or
   * the request it answers was failed (replies); its payload is skipped unless the owner closes.
   */
  onOversized?(header: FrameHeader): void;
  /** Called once, when the socket is gone; `error` says why when it was not a clean close. */
  onClose?(error: PraaSError | undefined): void;
}

interface Pending {
  resolve(frame: Frame): void;
  reject(error: PraaSError): void;
  timer: NodeJS.Timeout | undefined;
}

const EMPTY = Buffer.alloc(0);
/** Frames written in one tick, up to this many bytes in all, leave as one copied buffer. */
const COPY_BELOW_BYTES = 64 * 1024;
/** Frames that answer a request of ours; everything else is a request to us. */
const REPLY_TYPES: ReadonlySet<number> = new Set([
  FrameType.Result,
  FrameType.Error,
  FrameType.Welcome,
]);

export class FrameLink {
  readonly socket: Socket;
  readonly #options: FrameLinkOptions;
  readonly #parser: FrameParser;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #outbox: Buffer[] = [];
  /** Ids of empty replies not in the outbox yet (coalesceEmptyReplies). */
  #acks: number[] = [];
  #closed = false;
  #closeReason: PraaSError | undefined;
  #maxPayloadBytes: number;
  /** Why reading is paused: "backlog" (our writes back up) or the owner's reasons. */
  readonly #holds = new Set<string>();

  constructor(socket: Socket, options: FrameLinkOptions) {
    this.socket = socket;
    this.#options = options;
    this.#maxPayloadBytes = options.maxPayloadBytes;
    this.#parser = new FrameParser(
      {
        onFrame: (frame) => this.#onFrame(frame),
        onOversized: (header) => this.#onOversized(header),
        onError: (error) => this.#onGarbage(error),
      },
      { maxPayloadBytes: options.maxPayloadBytes },
    );
    socket.setNoDelay?.(true);
    socket.on("data", this.#onData);
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
    if (options.writeBacklogBytes !== undefined) socket.on("drain", this.#onDrain);
    // Closed before we were made (a child's pipe that Node drained when the child exited):
    // no 'close' is coming, and requests must not wait for answers that cannot come.
    if (socket.destroyed) queueMicrotask(this.#onClose);
  }

  readonly #onData = (chunk: Buffer): void => this.#parser.push(chunk);
  readonly #onError = (error: Error): void =>
    this.#finish(new PraaSError("CONNECTION_CLOSED", error.message));
  readonly #onClose = (): void => this.#finish(undefined);
  readonly #onDrain = (): void => this.resumeReading("backlog");

  /** Parses `bytes` as if they had been read from the socket (bytes another process read). */
  feed(bytes: Buffer): void {
    if (bytes.length > 0) this.#parser.push(bytes);
  }

  /**
   * From `onRequest`: lets go of the socket so it can be handed to another process. Stops the
   * kernel reads (a handle passed while still reading would race the receiver for the bytes)
   * and returns what was read past the current frame. The link is closed; `onClose` does not run.
   */
  detach(): Buffer {
    const rest = this.#parser.detach();
    this.#closed = true;
    this.socket.off("data", this.#onData);
    this.socket.off("error", this.#onError);
    this.socket.off("close", this.#onClose);
    this.socket.off("drain", this.#onDrain);
    this.socket.pause();
    const buffered = this.socket.readableLength > 0 ? (this.socket.read() as Buffer | null) : null;
    stopKernelReads(this.socket);
    return buffered === null ? rest : Buffer.concat([rest, buffered]);
  }

  /** Changes the payload cap, e.g. once a connection has authenticated. */
  setMaxPayloadBytes(bytes: number): void {
    this.#maxPayloadBytes = bytes;
    this.#parser.setMaxPayloadBytes(bytes);
  }

  /** Stops reading the socket until every `reason` given here is lifted by `resumeReading`. */
  pauseReading(reason: string): void {
    if (this.#holds.size === 0) this.socket.pause();
    this.#holds.add(reason);
  }

  resumeReading(reason: string): void {
    if (this.#holds.delete(reason) && this.#holds.size === 0) this.socket.resume();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Writes one frame; frames written in the same tick leave together, in one system call. */
  send(type: FrameType, id: number, meta: Uint8Array = EMPTY, payload: Uint8Array = EMPTY): void {
    if (this.#closed || this.socket.destroyed) return;
    this.#scheduleFlush();
    this.#takeAcks();
    for (const part of encodeFrame(type, id, meta, payload)) this.#outbox.push(part);
  }

  /** Sends a request frame and resolves with the Result frame (an Error frame rejects). */
  request(
    type: FrameType,
    meta: Uint8Array = EMPTY,
    payload: Uint8Array = EMPTY,
    timeoutMs?: number,
  ): Promise<Frame> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const id = this.#allocateId();
    return new Promise<Frame>((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : this.#timeout(id, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.send(type, id, meta, payload);
    });
  }

  reply(id: number, payload: Uint8Array = EMPTY, fields?: readonly string[]): void {
    if (this.#options.coalesceEmptyReplies && payload.length === 0 && !fields?.length) {
      this.#ack(id);
      return;
    }
    this.send(FrameType.Result, id, fields ? encodeFields(fields) : EMPTY, payload);
  }

  replyError(id: number, error: ErrorRecord | PraaSError): void {
    const record = error instanceof PraaSError ? error.toRecord() : error;
    this.send(FrameType.Error, id, encodeErrorRecord(record));
  }

  /** Closes the socket after flushing; pending requests fail with `reason`. */
  close(reason?: PraaSError): void {
    this.#closeReason ??= reason;
    this.#flush();
    this.socket.end();
  }

  /**
   * Closes after flushing without waiting for the peer to close its side: a peer that ignores
   * our FIN must not keep the socket.
   */
  hangUp(reason?: PraaSError): void {
    this.close(reason);
    this.socket.destroySoon?.();
  }

  /** Drops the socket at once; pending requests fail with `reason`. */
  destroy(reason?: PraaSError): void {
    this.#closeReason ??= reason;
    this.socket.destroy();
    this.#finish(undefined);
  }

  /** Hands frames written this tick to the socket now instead of at the end of the tick. */
  flush(): void {
    this.#flush();
  }

  #ack(id: number): void {
    if (this.#closed || this.socket.destroyed) return;
    this.#scheduleFlush();
    this.#acks.push(id);
  }

  #scheduleFlush(): void {
    if (this.#outbox.length === 0 && this.#acks.length === 0) process.nextTick(() => this.#flush());
  }

  /** Moves the pending empty replies into the outbox, as one frame, before whatever follows. */
  #takeAcks(): void {
    const ids = this.#acks;
    if (ids.length === 0) return;
    this.#acks = [];
    const payload = Buffer.allocUnsafe(ids.length * 4);
    ids.forEach((id, index) => payload.writeUInt32LE(id, index * 4));
    for (const part of encodeFrame(FrameType.Results, 0, EMPTY, payload)) this.#outbox.push(part);
  }

  /**
   * One buffer goes out with a plain write, the cheapest path: small frames copied into one
   * (a stream's writev costs more per buffer than the copy), large ones as one writev.
   */
  #flush(): void {
    this.#takeAcks();
    const outbox = this.#outbox;
    if (outbox.length === 0 || this.socket.destroyed) return;
    this.#outbox = [];
    if (outbox.length === 1) {
      this.socket.write(outbox[0] as Buffer);
    } else {
      this.#writeMany(outbox);
    }
    this.#limitBacklog();
  }

  #writeMany(parts: Buffer[]): void {
    let total = 0;
    for (const part of parts) total += part.length;
    if (total <= COPY_BELOW_BYTES) {
      this.socket.write(Buffer.concat(parts, total));
      return;
    }
    this.socket.cork();
    for (const part of parts) this.socket.write(part);
    this.socket.uncork();
  }

  #limitBacklog(): void {
    const limit = this.#options.writeBacklogBytes;
    if (limit !== undefined && this.socket.writableLength > limit) this.pauseReading("backlog");
  }

  #allocateId(): number {
    const id = this.#nextId;
    this.#nextId = nextU32(this.#nextId);
    return id;
  }

  #timeout(id: number, ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      this.#settle(id)?.reject(new PraaSError("TIMEOUT", `no reply within ${ms} ms`));
    }, ms);
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (pending === undefined) return undefined;
    this.#pending.delete(id);
    if (pending.timer) clearTimeout(pending.timer);
    return pending;
  }

  #onFrame(frame: Frame): void {
    if (frame.type === FrameType.Results) {
      this.#onResults(frame.payload);
      return;
    }
    if (!REPLY_TYPES.has(frame.type) || frame.id === 0) {
      this.#dispatchRequest(frame);
      return;
    }
    const pending = this.#settle(frame.id);
    if (pending === undefined) return;
    if (frame.type === FrameType.Error) pending.reject(decodeErrorFrame(frame));
    else pending.resolve(frame);
  }

  /** Each id listed gets an empty Result; a payload that is not whole ids is garbage. */
  #onResults(ids: Buffer): void {
    if (ids.length % 4 !== 0) {
      this.#onGarbage(new PraaSError("PROTOCOL_ERROR", "a Results frame must list whole u32 ids"));
      return;
    }
    for (let at = 0; at < ids.length; at += 4) {
      const id = ids.readUInt32LE(at);
      this.#settle(id)?.resolve({ type: FrameType.Result, id, meta: EMPTY, payload: EMPTY });
    }
  }

  #dispatchRequest(frame: Frame): void {
    try {
      this.#options.onRequest(frame, this);
    } catch (error) {
      const failure =
        error instanceof PraaSError ? error : new PraaSError("INTERNAL", String(error));
      if (frame.id !== 0) this.replyError(frame.id, failure);
    }
  }

  #onOversized(header: FrameHeader): void {
    const error = overLimit(`payload of ${header.payloadLength} bytes`, this.#maxPayloadBytes);
    if (REPLY_TYPES.has(header.type)) this.#settle(header.id)?.reject(error);
    else this.replyError(header.id, error);
    this.#options.onOversized?.(header);
  }

  #onGarbage(error: PraaSError): void {
    this.replyError(0, error);
    this.hangUp(error);
  }

  #closedError(): PraaSError {
    return this.#closeReason ?? new PraaSError("CONNECTION_CLOSED", "connection closed");
  }

  #finish(error: PraaSError | undefined): void {
    if (this.#closed) return;
    this.#closeReason ??= error;
    this.#closed = true;
    const reason = this.#closedError();
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(reason);
    this.#options.onClose?.(this.#closeReason);
  }
}

export function encodeErrorRecord(record: ErrorRecord): Buffer {
  const fields = [record.code, record.message.slice(0, 8192)];
  if (record.errorName !== undefined || record.stack !== undefined)
    fields.push(record.errorName ?? "");
  if (record.stack !== undefined) fields.push(record.stack.slice(0, 16_384));
  return encodeFields(fields);
}

export function decodeErrorFrame(frame: Frame): PraaSError {
  try {
    const [code = "INTERNAL", message = "", errorName, stack] = decodeFields(frame.meta);
    return PraaSError.fromRecord({ code, message, errorName: errorName || undefined, stack });
  } catch {
    return new PraaSError("PROTOCOL_ERROR", "malformed error frame");
  }
}
