/**
 * The swapped form of a process: its state and undelivered mailbox as one binary stream.
 * Streamed in both directions so 100 MiB of state never needs a second 100 MiB buffer.
 *
 *   "PRAASNAP" u32 version, u32 walEpoch, u64 walOffset, u64 generation, u8 swapIdLen, swapId
 *     (version 5; version 4 has no checksum; version 3 no generation and swap id either: 0, "";
 *     version 2 no walOffset either: 0; version 1 no walEpoch either: 0)
 *   records: u8 kind
 *     1 state:   u16 keyLen, key, f64 updatedAt, u32 valueLen, value
 *     2 message: u16 keyLen, key, u16 sourceLen, source, u32 valueLen, value
 *     0 end:     u32 stateCount, u32 messageCount   (a truncated stream has no end record)
 *   u32 crc32 of every byte before it, from the magic to the end record (version 5)
 *
 * The checksum catches what the structure cannot: a damaged byte inside a value or a key (bit
 * rot on a disk, a bad copy in an object store) would otherwise decode as a different value.
 * It is CRC-32, as in the write-ahead log: the damage it guards against is accidental, and it
 * costs a fraction of a sha256 over 100 MiB. It is computed as the chunks are written and
 * checked as they are read, so neither side makes a second pass or a second copy. Snapshots
 * of versions 1 to 4, written before it existed, are still read, unchecked.
 *
 * `walEpoch` is the epoch of the write-ahead log whose ops the snapshot holds (0: none), and
 * `walOffset` how far into that epoch's log (0: all of it; a snapshot taken while serving
 * holds the log up to a record boundary). A restore replays a log of a newer epoch, or of the
 * same epoch from `walOffset`, so a crash between storing the snapshot and emptying the log
 * never applies the same mailbox ops twice.
 *
 * `generation` counts the snapshots stored under the key: a process stores generation N + 1
 * only while the stored one is still N, the one it restored or stored itself, so an earlier
 * instance never overwrites a newer instance's snapshot. `swapId` names the swap command that
 * stored it (empty for compactions and self-initiated swaps): the control plane's evidence that
 * this swap, and not an earlier one, completed.
 */
import { crc32 } from "node:zlib";
import { PraaSError } from "../protocol/index.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { Message } from "./mailbox.js";
import { ByteReader } from "./byte-reader.js";

const MAGIC = Buffer.from("PRAASNAP");
const VERSION = 5;
/** The first version that ends with a checksum. */
const CHECKED_VERSION = 5;
const enum Kind {
  End = 0,
  State = 1,
  Message = 2,
}

export interface StateEntry {
  key: string;
  value: Buffer;
  updatedAt: number;
}

/** How much of the write-ahead log a snapshot holds. */
export interface LogPosition {
  epoch: number;
  /** 0: the whole epoch. */
  offset: number;
}

/** Which snapshot this is: its place in the key's history, and the swap that stored it. */
export interface SnapshotStamp {
  generation: number;
  /** "" when no swap command stored it. */
  swapId: string;
}

export interface SnapshotHead extends SnapshotStamp {
  walEpoch: number;
  walOffset: number;
}

export interface Snapshot extends SnapshotHead {
  state: StateEntry[];
  messages: Message[];
}

const NO_STAMP: SnapshotStamp = { generation: 0, swapId: "" };

export function* encodeSnapshot(
  state: Iterable<StateEntry>,
  messages: Iterable<Message>,
  log: LogPosition = { epoch: 0, offset: 0 },
  stamp: SnapshotStamp = NO_STAMP,
): Generator<Buffer> {
  let crc = 0;
  for (const chunk of encodeContent(state, messages, log, stamp)) {
    crc = crc32(chunk, crc);
    yield chunk;
  }
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(crc);
  yield trailer;
}

/** Everything the checksum covers: the head, the records and the end record. */
function* encodeContent(
  state: Iterable<StateEntry>,
  messages: Iterable<Message>,
  log: LogPosition,
  stamp: SnapshotStamp,
): Generator<Buffer> {
  yield encodeHead(log, stamp);
  let stateCount = 0;
  let messageCount = 0;
  for (const entry of state) {
    stateCount++;
    yield* valueRecord(stateHeader(entry), entry.value);
  }
  for (const message of messages) {
    messageCount++;
    yield* valueRecord(messageHeader(message), message.value);
  }
  const end = Buffer.alloc(9);
  end.writeUInt32LE(stateCount, 1);
  end.writeUInt32LE(messageCount, 5);
  yield end;
}

function encodeHead(log: LogPosition, stamp: SnapshotStamp): Buffer {
  const swapId = Buffer.from(stamp.swapId);
  if (swapId.length > 255) throw new PraaSError("INTERNAL", "swap id longer than 255 bytes");
  const head = Buffer.alloc(MAGIC.length + 25 + swapId.length);
  MAGIC.copy(head);
  let at = head.writeUInt32LE(VERSION, MAGIC.length);
  at = head.writeUInt32LE(log.epoch, at);
  at = head.writeBigUInt64LE(BigInt(log.offset), at);
  at = head.writeBigUInt64LE(BigInt(stamp.generation), at);
  at = head.writeUInt8(swapId.length, at);
  swapId.copy(head, at);
  return head;
}

function* valueRecord(header: Buffer, value: Buffer): Generator<Buffer> {
  yield header;
  if (value.length > 0) yield value;
}

function stateHeader(entry: StateEntry): Buffer {
  const key = Buffer.from(entry.key);
  const out = Buffer.allocUnsafe(1 + 2 + key.length + 8 + 4);
  let at = out.writeUInt8(Kind.State, 0);
  at = out.writeUInt16LE(key.length, at);
  at += key.copy(out, at);
  at = out.writeDoubleLE(entry.updatedAt, at);
  out.writeUInt32LE(entry.value.length, at);
  return out;
}

function messageHeader(message: Message): Buffer {
  const key = Buffer.from(message.key);
  const source = Buffer.from(message.source);
  const out = Buffer.allocUnsafe(1 + 2 + key.length + 2 + source.length + 4);
  let at = out.writeUInt8(Kind.Message, 0);
  at = out.writeUInt16LE(key.length, at);
  at += key.copy(out, at);
  at = out.writeUInt16LE(source.length, at);
  at += source.copy(out, at);
  out.writeUInt32LE(message.value.length, at);
  return out;
}

/** Decodes a snapshot; rejects with STORAGE_ERROR when the stream is corrupt or truncated. */
export async function decodeSnapshot(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<Snapshot> {
  return readingCorrupt(chunks, async (reader) => {
    const version = await readVersion(reader);
    const head = await readHeadFields(reader, version);
    return { ...head, ...(await readRecords(reader, version >= CHECKED_VERSION)) };
  });
}

/**
 * Snapshots up to this size are read in one piece: a resume then waits for one read, not a
 * chain of chunk reads each decoded as it comes. Larger ones stream, so a big state never
 * needs a second copy of itself in one buffer.
 */
export const ONE_READ_SNAPSHOT_BYTES = 16 * 1024 * 1024;

/**
 * The snapshot stored under `key`, decoded; undefined when there is none. A corrupt one fails
 * with STORAGE_ERROR naming the key, so whoever reads the error knows which blob to look at.
 */
export async function readStoredSnapshot(
  blobs: BlobStore,
  key: string,
): Promise<Snapshot | undefined> {
  const size = (await blobs.stat(key))?.size;
  if (size === undefined) return undefined;
  if (size <= ONE_READ_SNAPSHOT_BYTES) {
    const bytes = await blobs.getBytes(key);
    return bytes === undefined ? undefined : decodeSnapshot([bytes]).catch(naming(key));
  }
  const stream = await blobs.get(key);
  return stream === undefined ? undefined : decodeSnapshot(stream).catch(naming(key));
}

function naming(key: string): (error: unknown) => never {
  return (error) => {
    if (!(error instanceof PraaSError) || error.code !== "STORAGE_ERROR") throw error;
    throw new PraaSError("STORAGE_ERROR", `${error.message} (${key})`, { cause: error });
  };
}

/** Only the head of a snapshot (what it holds of the log, its generation and swap). */
export function decodeSnapshotHead(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<SnapshotHead> {
  return readingCorrupt(chunks, async (reader) =>
    readHeadFields(reader, await readVersion(reader)),
  );
}

async function readingCorrupt<T>(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  read: (reader: ByteReader) => Promise<T>,
): Promise<T> {
  const reader = new ByteReader(chunks);
  try {
    return await read(reader);
  } catch (error) {
    if (error instanceof PraaSError) throw error;
    throw new PraaSError("STORAGE_ERROR", `corrupt snapshot: ${String(error)}`);
  } finally {
    await reader.close();
  }
}

/** Checks the magic; resolves the format's version. */
async function readVersion(reader: ByteReader): Promise<number> {
  const head = await reader.read(MAGIC.length + 4);
  if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt("bad magic");
  const version = head.readUInt32LE(MAGIC.length);
  if (version < 1 || version > VERSION) throw corrupt("unsupported version");
  return version;
}

/** The rest of the head; what an older version lacks reads as 0 / "". */
async function readHeadFields(reader: ByteReader, version: number): Promise<SnapshotHead> {
  const walEpoch = version >= 2 ? (await reader.read(4)).readUInt32LE(0) : 0;
  const walOffset = version >= 3 ? await readU64(reader) : 0;
  if (version < 4) return { walEpoch, walOffset, ...NO_STAMP };
  const generation = await readU64(reader);
  const swapId = (await reader.read((await reader.read(1)).readUInt8(0))).toString("utf8");
  return { walEpoch, walOffset, generation, swapId };
}

async function readU64(reader: ByteReader): Promise<number> {
  return Number((await reader.read(8)).readBigUInt64LE(0));
}

type Records = Omit<Snapshot, keyof SnapshotHead>;

/** `checked`: a checksum follows the end record. */
async function readRecords(reader: ByteReader, checked: boolean): Promise<Records> {
  const snapshot: Records = { state: [], messages: [] };
  for (;;) {
    const kind = (await reader.read(1))[0];
    if (kind === Kind.State) snapshot.state.push(await readState(reader));
    else if (kind === Kind.Message) snapshot.messages.push(await readMessage(reader));
    else if (kind === Kind.End) return readEnd(snapshot, reader, checked);
    else throw corrupt(`unknown record kind ${kind}`);
  }
}

/** The end record, then the checksum: a damaged count is reported as the damage it is. */
async function readEnd(snapshot: Records, reader: ByteReader, checked: boolean): Promise<Records> {
  const end = await reader.read(8);
  if (checked) await checkSum(reader);
  return checkEnd(snapshot, end, reader);
}

/** Compares the checksum that follows the end record with the bytes before it. */
async function checkSum(reader: ByteReader): Promise<void> {
  const computed = reader.crc32();
  const stored = (await reader.read(4)).readUInt32LE(0);
  if (stored !== computed) throw corrupt("checksum mismatch");
}

async function readState(reader: ByteReader): Promise<StateEntry> {
  const key = await readString(reader);
  const updatedAt = (await reader.read(8)).readDoubleLE(0);
  const value = await readValue(reader);
  return { key, updatedAt, value };
}

async function readMessage(reader: ByteReader): Promise<Message> {
  const key = await readString(reader);
  const source = await readString(reader);
  return { key, source, value: await readValue(reader) };
}

async function readString(reader: ByteReader): Promise<string> {
  const length = (await reader.read(2)).readUInt16LE(0);
  return (await reader.read(length)).toString("utf8");
}

/** Values are read in pieces of at most this: a corrupt length fails as truncated, not as a 4 GiB allocation. */
const VALUE_PIECE_BYTES = 16 * 1024 * 1024;

async function readValue(reader: ByteReader): Promise<Buffer> {
  const length = (await reader.read(4)).readUInt32LE(0);
  if (length <= VALUE_PIECE_BYTES) return reader.read(length);
  const pieces: Buffer[] = [];
  for (let left = length; left > 0; left -= VALUE_PIECE_BYTES) {
    pieces.push(await reader.read(Math.min(left, VALUE_PIECE_BYTES)));
  }
  return Buffer.concat(pieces, length);
}

async function checkEnd(snapshot: Records, end: Buffer, reader: ByteReader): Promise<Records> {
  if (
    end.readUInt32LE(0) !== snapshot.state.length ||
    end.readUInt32LE(4) !== snapshot.messages.length
  ) {
    throw corrupt("record counts do not match");
  }
  if (!(await atEnd(reader))) throw corrupt("bytes after the end record");
  return snapshot;
}

async function atEnd(reader: ByteReader): Promise<boolean> {
  try {
    await reader.read(1);
    return false;
  } catch (error) {
    // The reader's "truncated" is what the end of the stream looks like; a read failure is not.
    if (error instanceof PraaSError && error.message.endsWith("truncated")) return true;
    throw error;
  }
}

function corrupt(reason: string): PraaSError {
  return new PraaSError("STORAGE_ERROR", `corrupt snapshot: ${reason}`);
}
