/**
 * Reads rendezvous frames off a socket one at a time, taking from the socket exactly the bytes
 * of each frame and nothing more. That is why the rendezvous link does not use FrameLink (which
 * parses every chunk it receives): after the "relay" decision the same socket carries the
 * parties' raw bytes, which may arrive right behind the last frame and must stay in the socket
 * for whoever uses it next. Frames nobody asked for yet stay in the socket too (TCP backpressure
 * bounds them), so a party flooding frames costs no memory here.
 */
import type { Socket } from "node:net";

import {
  FrameType,
  HEADER_BYTES,
  MAX_RENDEZVOUS_META_BYTES,
  PraaSError,
  decodeFrameHeader,
  type Frame,
  type FrameHeader,
} from "../protocol/index.js";

const EMPTY = Buffer.alloc(0);

interface Waiter {
  resolve(frame: Frame): void;
  reject(error: PraaSError): void;
  timer: NodeJS.Timeout;
}

export class FrameReader {
  readonly #socket: Socket;
  #header: FrameHeader | undefined;
  #waiter: Waiter | undefined;
  #failure: PraaSError | undefined;
  readonly #onReadable = (): void => this.#pump();
  readonly #onEnd = (): void => this.#fail(closed());
  readonly #onError = (error: Error): void =>
    this.#fail(new PraaSError("CONNECTION_CLOSED", error.message));

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("readable", this.#onReadable);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
    socket.on("error", this.#onError);
  }

  /** The next frame; rejects on garbage, on close, or after `timeoutMs` with TIMEOUT. */
  next(timeoutMs: number, what: string): Promise<Frame> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#waiter) return Promise.reject(new PraaSError("INTERNAL", "one read at a time"));
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => this.#expire(what, timeoutMs), timeoutMs);
      this.#waiter = { resolve, reject, timer };
      this.#pump();
    });
  }

  /**
   * Stops reading: the socket keeps every byte not read yet, and reads like a fresh socket for
   * the next owner once this resolves (a 'data' listener then starts the flow).
   */
  async release(): Promise<void> {
    this.#socket.off("readable", this.#onReadable);
    this.#socket.off("end", this.#onEnd);
    this.#socket.off("close", this.#onEnd);
    this.#socket.off("error", this.#onError);
    // Node resets the stream from paused to "no mode yet" on the next tick after the last
    // 'readable' listener goes; without that, a later on('data') would never start the flow.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  #expire(what: string, timeoutMs: number): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(new PraaSError("TIMEOUT", `no ${what} within ${timeoutMs} ms`));
  }

  #pump(): void {
    if (this.#waiter === undefined || this.#failure) return;
    try {
      const frame = this.#readFrame();
      if (frame) this.#settle((waiter) => waiter.resolve(frame));
    } catch (error) {
      this.#fail(error instanceof PraaSError ? error : new PraaSError("INTERNAL", String(error)));
    }
  }

  #readFrame(): Frame | undefined {
    this.#header ??= this.#readHeader();
    const header = this.#header;
    if (header === undefined) return undefined;
    const body = this.#readExactly(header.metaLength);
    if (body === undefined) return undefined;
    this.#header = undefined;
    return { type: header.type, id: header.id, meta: body, payload: EMPTY };
  }

  #readHeader(): FrameHeader | undefined {
    const bytes = this.#readExactly(HEADER_BYTES);
    if (bytes === undefined) return undefined;
    const header = decodeFrameHeader(bytes);
    if (header.metaLength > MAX_RENDEZVOUS_META_BYTES || header.payloadLength !== 0) {
      throw new PraaSError("PROTOCOL_ERROR", "rendezvous frame too large");
    }
    if (header.type === FrameType.Result && header.id === 0) {
      throw new PraaSError("PROTOCOL_ERROR", "reply without a request id");
    }
    return header;
  }

  #readExactly(count: number): Buffer | undefined {
    if (count === 0) return EMPTY;
    const bytes = this.#socket.read(count) as Buffer | null;
    if (bytes === null) return undefined;
    if (bytes.length < count) throw closed(); // the stream ended inside a frame
    return bytes;
  }

  #fail(error: PraaSError): void {
    this.#failure ??= error;
    this.#settle((waiter) => waiter.reject(error));
  }

  #settle(act: (waiter: Waiter) => void): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    clearTimeout(waiter.timer);
    act(waiter);
  }
}

function closed(): PraaSError {
  return new PraaSError("CONNECTION_CLOSED", "rendezvous connection closed");
}
