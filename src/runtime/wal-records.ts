/**
 * The write-ahead log's file format (no I/O here). The file is a head, then one record per
 * append:
 *
 *   head: "PRAASWAL" u32 epoch   (a new epoch each time the log is emptied into a snapshot)
 *   u32 bodyLength, u32 crc32(body), body = ops: u8 kind, then per kind
 *     1 put:      str key, f64 updatedAt, bytes value
 *     2 delete:   str key
 *     3 mail:     str key, str source, bytes value     (queued at the back)
 *     4 taken:    str key, str source                  (the first message of key from source)
 *     5 returned: str key, str source, bytes value     (put back at the front)
 *   str = u16 length + UTF-8; bytes = u32 length + raw
 *
 * Decoding stops at the first record that is short or fails its CRC, so a log is never misread.
 * What follows it is a torn tail (an append a crash cut short: nothing valid after it) unless a
 * whole, checksum-valid record with ops follows: then the log is corrupt in the middle and the
 * records after the damage were acknowledged (see ReplayResult.corruptAt). A file without a
 * whole head (a crash while it was being emptied) holds nothing.
 */
import { crc32 } from "node:zlib";

export type WalOp =
  | { kind: "put"; key: string; value: Buffer; updatedAt: number }
  | { kind: "delete"; key: string }
  | { kind: "mail"; key: string; source: string; value: Buffer }
  | { kind: "taken"; key: string; source: string }
  | { kind: "returned"; key: string; source: string; value: Buffer };

const KIND_CODES = { put: 1, delete: 2, mail: 3, taken: 4, returned: 5 } as const;
const KNOWN_KINDS: ReadonlySet<number> = new Set(Object.values(KIND_CODES));
const HEADER_BYTES = 8;
const MAGIC = Buffer.from("PRAASWAL");
export const HEAD_BYTES = MAGIC.length + 4;

export interface ReplayResult {
  /** The log's epoch; undefined when the file has no head (new, or emptied by a crash). */
  epoch: number | undefined;
  ops: WalOp[];
  /** Bytes of whole, valid records; what follows (a torn tail) is dropped. */
  validBytes: number;
  /** Bytes that were dropped. */
  droppedBytes: number;
  /**
   * Where the dropped bytes start when whole records with ops follow inside them: corruption
   * in the middle, not a torn tail. Undefined for a torn tail (or nothing dropped).
   */
  corruptAt?: number;
}

export function encodeHead(epoch: number): Buffer {
  const head = Buffer.alloc(HEAD_BYTES);
  MAGIC.copy(head);
  head.writeUInt32LE(epoch, MAGIC.length);
  return head;
}

/** What a snapshot holds of the log: the records of `epoch` before `offset` (0: all of them). */
export interface HeldPosition {
  epoch: number;
  offset: number;
}

/**
 * Reads a whole log: the ops of every valid record before the first torn or corrupt one. When
 * `held` names this log's epoch with an offset (a record boundary), only the ops of the records
 * from there on: a snapshot holds the ones before.
 */
export function decodeLog(bytes: Buffer, held?: HeldPosition): ReplayResult {
  const ops: WalOp[] = [];
  if (bytes.length < HEAD_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC))
    return withDamage(bytes, { epoch: undefined, ops, validBytes: 0, droppedBytes: bytes.length });
  const epoch = bytes.readUInt32LE(MAGIC.length);
  const from = held?.epoch === epoch ? held.offset : 0;
  let at = HEAD_BYTES;
  for (;;) {
    const body = recordBody(bytes, at);
    const decoded = body && decodeOps(body);
    if (!decoded) break;
    if (at >= from) ops.push(...decoded);
    at += HEADER_BYTES + (body?.length ?? 0);
  }
  return withDamage(bytes, { epoch, ops, validBytes: at, droppedBytes: bytes.length - at });
}

/**
 * Whether a log of `epoch` holds records a stored snapshot at `held` does not (only those are
 * replayed): a newer epoch, or the snapshot's own epoch past an offset (a compaction's
 * snapshot). Without a snapshot, every record counts.
 */
export function holdsNewer(epoch: number | undefined, held: HeldPosition | undefined): boolean {
  if (epoch === undefined) return false;
  if (held === undefined) return true;
  return epoch > held.epoch || (epoch === held.epoch && held.offset > 0);
}

/** `result` with corruptAt set when the dropped bytes hold a whole record with ops. */
function withDamage(bytes: Buffer, result: ReplayResult): ReplayResult {
  const damaged = result.validBytes;
  if (result.droppedBytes === 0 || !recordFollows(bytes, damaged)) return result;
  return { ...result, corruptAt: damaged };
}

/**
 * Whether a whole record with ops starts anywhere after the damaged one at `damaged`. A crash
 * cuts only the last batch short, and one write puts its records down in order, so nothing
 * valid follows a torn tail; zeros (a file grown but not written) read as empty records and do
 * not count. (A file system that kept a later page of an unfinished write but not an earlier
 * one makes a torn tail look corrupt: refused, not cut; nothing is lost either way.) First
 * where the damaged record's length field points (a changed byte in its body or checksum),
 * then at every later byte (a changed length field); the cheap checks come before the CRC.
 */
function recordFollows(bytes: Buffer, damaged: number): boolean {
  if (bytes.length - damaged >= HEADER_BYTES) {
    const next = damaged + HEADER_BYTES + bytes.readUInt32LE(damaged);
    if (holdsOps(bytes, next)) return true;
  }
  for (let at = damaged + 1; at + HEADER_BYTES < bytes.length; at++)
    if (holdsOps(bytes, at)) return true;
  return false;
}

/** A record at `at` that fits, starts with a known op kind, passes its checksum and decodes. */
function holdsOps(bytes: Buffer, at: number): boolean {
  if (bytes.length - at <= HEADER_BYTES) return false; // not even a header and one byte
  const length = bytes.readUInt32LE(at);
  if (length === 0 || length > bytes.length - at - HEADER_BYTES) return false;
  if (!KNOWN_KINDS.has(bytes[at + HEADER_BYTES] ?? 0)) return false;
  const body = recordBody(bytes, at);
  return body !== undefined && decodeOps(body) !== undefined;
}

/** The body of the record at `at`, or undefined when it is short or fails its checksum. */
function recordBody(bytes: Buffer, at: number): Buffer | undefined {
  if (bytes.length - at < HEADER_BYTES) return undefined;
  const length = bytes.readUInt32LE(at);
  if (length > bytes.length - at - HEADER_BYTES) return undefined;
  const body = bytes.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length);
  return crc32(body) === bytes.readUInt32LE(at + 4) ? body : undefined;
}

/** One buffer, sized first and written once: a record is made on every durable write. */
export function encodeRecord(ops: readonly WalOp[]): Buffer {
  const bodyLength = ops.reduce((sum, op) => sum + opBytes(op), 0);
  const record = Buffer.allocUnsafe(HEADER_BYTES + bodyLength);
  const writer = new Writer(record, HEADER_BYTES);
  for (const op of ops) encodeOp(writer, op);
  record.writeUInt32LE(bodyLength, 0);
  record.writeUInt32LE(crc32(record.subarray(HEADER_BYTES)), 4);
  return record;
}

/** What encodeOp writes for `op`. */
function opBytes(op: WalOp): number {
  const key = 1 + strBytes(op.key);
  if (op.kind === "put") return key + 8 + 4 + op.value.length;
  if (op.kind === "delete") return key;
  const source = strBytes(op.source);
  return op.kind === "taken" ? key + source : key + source + 4 + op.value.length;
}

const strBytes = (value: string): number => 2 + Buffer.byteLength(value);

function encodeOp(w: Writer, op: WalOp): void {
  w.u8(KIND_CODES[op.kind]);
  w.str(op.key);
  if (op.kind === "put") {
    w.f64(op.updatedAt);
    w.value(op.value);
  } else if (op.kind !== "delete") {
    w.str(op.source);
    if (op.kind !== "taken") w.value(op.value);
  }
}

/** A body that passed its CRC but does not decode is treated as corrupt: undefined. */
function decodeOps(body: Buffer): WalOp[] | undefined {
  const reader = new Reader(body);
  const ops: WalOp[] = [];
  try {
    while (!reader.done) ops.push(decodeOp(reader));
    return ops;
  } catch {
    return undefined;
  }
}

function decodeOp(r: Reader): WalOp {
  const kind = r.u8();
  const key = r.str();
  switch (kind) {
    case KIND_CODES.put: {
      const updatedAt = r.f64();
      return { kind: "put", key, updatedAt, value: r.bytes() };
    }
    case KIND_CODES.delete:
      return { kind: "delete", key };
    case KIND_CODES.mail:
      return { kind: "mail", key, source: r.str(), value: r.bytes() };
    case KIND_CODES.taken:
      return { kind: "taken", key, source: r.str() };
    case KIND_CODES.returned:
      return { kind: "returned", key, source: r.str(), value: r.bytes() };
    default:
      throw new RangeError(`unknown op kind ${kind}`);
  }
}

/** Writes fields into a buffer sized for them (opBytes). */
class Writer {
  #at: number;

  constructor(
    readonly out: Buffer,
    at: number,
  ) {
    this.#at = at;
  }

  u8(value: number): void {
    this.#at = this.out.writeUInt8(value, this.#at);
  }

  f64(value: number): void {
    this.#at = this.out.writeDoubleLE(value, this.#at);
  }

  /** Throws (RangeError) for a string over 65535 UTF-8 bytes, before writing anything. */
  str(value: string): void {
    const at = this.out.writeUInt16LE(Buffer.byteLength(value), this.#at);
    this.#at = at + this.out.write(value, at, "utf8");
  }

  value(value: Buffer): void {
    const at = this.out.writeUInt32LE(value.length, this.#at);
    this.#at = at + value.copy(this.out, at);
  }
}

/** Reads the fields Writer wrote; throws RangeError past the end (a corrupt body). */
class Reader {
  #at = 0;

  constructor(readonly body: Buffer) {}

  get done(): boolean {
    return this.#at >= this.body.length;
  }

  u8(): number {
    return this.body.readUInt8(this.#advance(1));
  }

  f64(): number {
    return this.body.readDoubleLE(this.#advance(8));
  }

  str(): string {
    const length = this.body.readUInt16LE(this.#advance(2));
    return this.#slice(length).toString("utf8");
  }

  bytes(): Buffer {
    const length = this.body.readUInt32LE(this.#advance(4));
    // A copy: the value outlives the log's read buffer.
    return Buffer.from(this.#slice(length));
  }

  #slice(length: number): Buffer {
    const start = this.#advance(length);
    return this.body.subarray(start, start + length);
  }

  #advance(length: number): number {
    const start = this.#at;
    if (start + length > this.body.length) throw new RangeError("record body ends early");
    this.#at += length;
    return start;
  }
}
