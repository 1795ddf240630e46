/**
 * Reads exact byte counts from a stream of chunks, copying only when a read spans chunks, and
 * keeps a CRC-32 of what was read. The CRC is taken over whole stretches of a chunk (when the
 * reader moves past a chunk, or is asked for it), not per read: a snapshot of many small keys
 * makes millions of reads of a few bytes.
 */
import { crc32 } from "node:zlib";
import { PraaSError } from "../protocol/index.js";

export class ByteReader {
  readonly #iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  #chunk: Buffer = Buffer.alloc(0);
  #offset = 0;
  #crc = 0;
  /** How much of the current chunk #crc covers. */
  #summed = 0;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.#iterator =
      Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  }

  async read(length: number): Promise<Buffer> {
    if (this.#chunk.length - this.#offset >= length) return this.#take(length);
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      if (this.#offset === this.#chunk.length && !(await this.#next())) {
        throw new PraaSError("STORAGE_ERROR", "corrupt snapshot: truncated");
      }
      const part = this.#take(Math.min(length - filled, this.#chunk.length - this.#offset));
      filled += part.copy(out, filled);
    }
    return out;
  }

  /** The CRC-32 of every byte read so far. */
  crc32(): number {
    this.#sumRead();
    return this.#crc;
  }

  /** Stops reading: a stream source is closed (its file descriptor released) now, not at GC. */
  async close(): Promise<void> {
    await this.#iterator.return?.();
  }

  #take(length: number): Buffer {
    const part = this.#chunk.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return part;
  }

  #sumRead(): void {
    if (this.#offset === this.#summed) return;
    this.#crc = crc32(this.#chunk.subarray(this.#summed, this.#offset), this.#crc);
    this.#summed = this.#offset;
  }

  async #next(): Promise<boolean> {
    this.#sumRead(); // the whole chunk: the reader only moves on once it is used up
    const next: IteratorResult<Uint8Array> = await this.#iterator.next();
    if (next.done) return false;
    const value = next.value;
    this.#chunk = Buffer.isBuffer(value)
      ? value
      : Buffer.from(value.buffer, value.byteOffset, value.length);
    this.#offset = 0;
    this.#summed = 0;
    return true;
  }
}
