/**
 * Incremental frame parser: feed it arbitrary chunks of a stream, it calls back once per
 * complete frame. It never throws out of `push`: garbage ends the stream with one PROTOCOL_ERROR
 * through `onError`, after which input is ignored. A payload above `maxPayloadBytes` is reported
 * through `onOversized` and its bytes are skipped, so the connection stays usable.
 *
 * Copies: a frame that arrives within one chunk is a zero-copy view of it; a frame spread over
 * chunks is copied exactly once into a buffer of its final size.
 */
import { PraaSError } from "./errors.js";
import { FRAME_MAGIC, HEADER_BYTES, isFrameType, type Frame, type FrameHeader } from "./frame.js";

export interface ParserHandlers {
  onFrame(frame: Frame): void;
  onOversized(header: FrameHeader): void;
  onError(error: PraaSError): void;
}

export interface ParserLimits {
  maxPayloadBytes: number;
}

type Phase = "header" | "body" | "skip" | "failed" | "detached";

export class FrameParser {
  readonly #handlers: ParserHandlers;
  #maxPayload: number;
  readonly #headerScratch = Buffer.allocUnsafe(HEADER_BYTES);
  #headerFill = 0;
  #phase: Phase = "header";
  #header: FrameHeader | undefined;
  #body: Buffer | undefined;
  #bodyFill = 0;
  #skipLeft = 0;
  /** The chunk being pushed, and where the frame just emitted ends in it. */
  #chunk: Buffer | undefined;
  #cursor = 0;

  constructor(handlers: ParserHandlers, limits: ParserLimits) {
    this.#handlers = handlers;
    this.#maxPayload = limits.maxPayloadBytes;
  }

  /** Changes the payload cap for frames whose header has not arrived yet. */
  setMaxPayloadBytes(bytes: number): void {
    this.#maxPayload = bytes;
  }

  get failed(): boolean {
    return this.#phase === "failed";
  }

  /** True between frames: no partial frame is buffered. */
  get idle(): boolean {
    return this.#phase === "header" && this.#headerFill === 0;
  }

  push(chunk: Buffer): void {
    let offset = 0;
    this.#chunk = chunk;
    while (offset < chunk.length && this.#phase !== "failed" && this.#phase !== "detached") {
      offset = this.#step(chunk, offset);
    }
    this.#chunk = undefined;
  }

  /**
   * Called from `onFrame`: stops parsing and returns the bytes after that frame in the chunk
   * being pushed, so another parser (e.g. in the process a connection is handed to) can go on
   * from there. Input after this is ignored.
   */
  detach(): Buffer {
    const rest = this.#chunk?.subarray(this.#cursor) ?? Buffer.alloc(0);
    this.#phase = "detached";
    return rest;
  }

  #step(chunk: Buffer, offset: number): number {
    switch (this.#phase) {
      case "header":
        return this.#readHeader(chunk, offset);
      case "body":
        return this.#readBody(chunk, offset);
      case "skip":
        return this.#skip(chunk, offset);
      case "failed":
      case "detached":
        return chunk.length;
    }
  }

  #readHeader(chunk: Buffer, offset: number): number {
    if (this.#headerFill === 0 && chunk.length - offset >= HEADER_BYTES) {
      return this.#acceptHeader(chunk, offset, chunk, offset + HEADER_BYTES);
    }
    const take = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - offset);
    chunk.copy(this.#headerScratch, this.#headerFill, offset, offset + take);
    this.#headerFill += take;
    if (this.#headerFill < HEADER_BYTES) return offset + take;
    this.#headerFill = 0;
    return this.#acceptHeader(this.#headerScratch, 0, chunk, offset + take);
  }

  /** Validates the header at `source[at]`; `next` is where the body starts in `chunk`. */
  #acceptHeader(source: Buffer, at: number, chunk: Buffer, next: number): number {
    const header = this.#decodeHeader(source, at);
    if (header === undefined) return chunk.length;
    if (header.payloadLength > this.#maxPayload) {
      this.#handlers.onOversized(header);
      this.#phase = "skip";
      this.#skipLeft = header.metaLength + header.payloadLength;
      return next;
    }
    const bodyLength = header.metaLength + header.payloadLength;
    if (chunk.length - next >= bodyLength) {
      this.#emit(header, chunk.subarray(next, next + bodyLength), next + bodyLength);
      return next + bodyLength;
    }
    this.#header = header;
    this.#body = Buffer.allocUnsafe(bodyLength);
    this.#bodyFill = 0;
    this.#phase = "body";
    return next;
  }

  #decodeHeader(source: Buffer, at: number): FrameHeader | undefined {
    const type = source[at + 1] ?? 0;
    if (source[at] !== FRAME_MAGIC || !isFrameType(type)) {
      this.#fail(`bad frame header (magic ${source[at]}, type ${type})`);
      return undefined;
    }
    return {
      type,
      metaLength: source.readUInt16LE(at + 2),
      id: source.readUInt32LE(at + 4),
      payloadLength: source.readUInt32LE(at + 8),
    };
  }

  #readBody(chunk: Buffer, offset: number): number {
    const body = this.#body as Buffer;
    const take = Math.min(body.length - this.#bodyFill, chunk.length - offset);
    chunk.copy(body, this.#bodyFill, offset, offset + take);
    this.#bodyFill += take;
    if (this.#bodyFill === body.length) {
      const header = this.#header as FrameHeader;
      this.#phase = "header";
      this.#body = undefined;
      this.#header = undefined;
      this.#emit(header, body, offset + take);
    }
    return offset + take;
  }

  #skip(chunk: Buffer, offset: number): number {
    const take = Math.min(this.#skipLeft, chunk.length - offset);
    this.#skipLeft -= take;
    if (this.#skipLeft === 0) this.#phase = "header";
    return offset + take;
  }

  #emit(header: FrameHeader, body: Buffer, end: number): void {
    this.#cursor = end;
    const meta = body.subarray(0, header.metaLength);
    const payload = body.subarray(header.metaLength);
    this.#handlers.onFrame({ type: header.type, id: header.id, meta, payload });
  }

  #fail(message: string): void {
    this.#phase = "failed";
    this.#handlers.onError(new PraaSError("PROTOCOL_ERROR", message));
  }
}
