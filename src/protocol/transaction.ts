/**
 * The binary records of optimistic state transactions on the worker link: the read set a
 * transaction's reads carry (so the process can refuse a read that no longer fits the earlier
 * ones) and the commit record (read set + write set). Pure encoding, no I/O.
 *
 * Layout (little-endian):
 *   read set:  u32 count, then per read:  u16 key length, key (UTF-8), f64 version
 *   write set: u32 count, then per write: u16 key length, key (UTF-8), u8 kind (0 delete,
 *              1 put), and for a put u32 value length, value
 *   commit:    read set, then write set
 * Versions are safe integers (f64 holds them exactly); 0 means "the key was absent".
 */
import { PraaSError } from "./errors.js";

/** A key a transaction read, and the version it saw (0: absent). */
export interface TxRead {
  key: string;
  version: number;
}

/** A buffered write: `value` undefined deletes the key. */
export interface TxWrite {
  key: string;
  value: Uint8Array | undefined;
}

export interface TxCommitRecord {
  reads: TxRead[];
  writes: TxWrite[];
}

const PUT = 1;
const DELETE = 0;

export function encodeReadSet(reads: readonly TxRead[]): Buffer {
  return Buffer.concat(readSetParts(reads));
}

export function decodeReadSet(bytes: Uint8Array): TxRead[] {
  const reader = new RecordReader(bytes);
  const reads = reader.reads();
  reader.end();
  return reads;
}

export function encodeCommit(record: TxCommitRecord): Buffer {
  return Buffer.concat([...readSetParts(record.reads), ...writeSetParts(record.writes)]);
}

/** PROTOCOL_ERROR on anything malformed, including a key written twice. */
export function decodeCommit(bytes: Uint8Array): TxCommitRecord {
  const reader = new RecordReader(bytes);
  const reads = reader.reads();
  const writes = reader.writes();
  reader.end();
  return { reads, writes };
}

function readSetParts(reads: readonly TxRead[]): Buffer[] {
  const parts = [u32(reads.length)];
  for (const read of reads) parts.push(keyBytes(read.key), f64(read.version));
  return parts;
}

function writeSetParts(writes: readonly TxWrite[]): Buffer[] {
  const parts = [u32(writes.length)];
  for (const { key, value } of writes) {
    parts.push(keyBytes(key), Buffer.of(value === undefined ? DELETE : PUT));
    if (value !== undefined) parts.push(u32(value.length), Buffer.from(value));
  }
  return parts;
}

function keyBytes(key: string): Buffer {
  const bytes = Buffer.from(key, "utf8");
  if (bytes.length > 0xffff) throw new PraaSError("BAD_REQUEST", "transaction key too long");
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16LE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

function u32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32LE(value, 0);
  return out;
}

function f64(value: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeDoubleLE(value, 0);
  return out;
}

/** Reads the records above; every overrun or bad value is one PROTOCOL_ERROR. */
class RecordReader {
  readonly #buf: Buffer;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  reads(): TxRead[] {
    const count = this.#u32();
    const reads: TxRead[] = [];
    for (let i = 0; i < count; i++) reads.push({ key: this.#key(), version: this.#version() });
    return reads;
  }

  writes(): TxWrite[] {
    const count = this.#u32();
    const writes: TxWrite[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const key = this.#key();
      if (seen.has(key)) throw malformed(`key "${key.slice(0, 64)}" written twice`);
      seen.add(key);
      writes.push({ key, value: this.#value() });
    }
    return writes;
  }

  end(): void {
    if (this.#offset !== this.#buf.length) throw malformed("trailing bytes");
  }

  #value(): Buffer | undefined {
    const kind = this.#take(1)[0];
    if (kind === DELETE) return undefined;
    if (kind !== PUT) throw malformed(`unknown write kind ${kind}`);
    return this.#take(this.#u32());
  }

  #key(): string {
    const length = this.#take(2).readUInt16LE(0);
    return this.#take(length).toString("utf8");
  }

  #version(): number {
    const version = this.#take(8).readDoubleLE(0);
    if (!Number.isSafeInteger(version) || version < 0) throw malformed(`bad version ${version}`);
    return version;
  }

  #u32(): number {
    return this.#take(4).readUInt32LE(0);
  }

  #take(length: number): Buffer {
    if (this.#offset + length > this.#buf.length) throw malformed("truncated");
    const slice = this.#buf.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return slice;
  }
}

function malformed(why: string): PraaSError {
  return new PraaSError("PROTOCOL_ERROR", `transaction record: ${why}`);
}
