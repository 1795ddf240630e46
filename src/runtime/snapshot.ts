/**
 * The swapped form of a process: its state and undelivered mailbox as one binary stream.
 * Streamed in both directions so 100 MiB of state never needs a second 100 MiB buffer.
 *
 *   "PRAASNAP" u32 version, u32 walEpoch, u64 walOffset
 *     (version 3; version 2 has no walOffset: 0; version 1 has neither: 0, 0)
 *   records: u8 kind
 *     1 state:   u16 keyLen, key, f64 updatedAt, u32 valueLen, value
 *     2 message: u16 keyLen, key, u16 sourceLen, source, u32 valueLen, value
 *     0 end:     u32 stateCount, u32 messageCount   (a truncated stream has no end record)
 *
 * `walEpoch` is the epoch of the write-ahead log whose ops the snapshot holds (0: none), and
 * `walOffset` how far into that epoch's log (0: all of it; a snapshot taken while serving
 * holds the log up to a record boundary). A restore replays a log of a newer epoch, or of the
 * same epoch from `walOffset`, so a crash between storing the snapshot and emptying the log
 * never applies the same mailbox ops twice.
 */
import { PraaSError } from "../protocol/index.js";
import type { Message } from "./mailbox.js";
import { ByteReader } from "./byte-reader.js";

const MAGIC = Buffer.from("PRAASNAP");
const VERSION = 3;
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

export interface Snapshot {
  state: StateEntry[];
  messages: Message[];
  walEpoch: number;
  walOffset: number;
}

export function* encodeSnapshot(
  state: Iterable<StateEntry>,
  messages: Iterable<Message>,
  log: LogPosition = { epoch: 0, offset: 0 },
): Generator<Buffer> {
  const head = Buffer.alloc(MAGIC.length + 16);
  MAGIC.copy(head);
  head.writeUInt32LE(VERSION, MAGIC.length);
  head.writeUInt32LE(log.epoch, MAGIC.length + 4);
  head.writeBigUInt64LE(BigInt(log.offset), MAGIC.length + 8);
  yield head;
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
  const reader = new ByteReader(chunks);
  try {
    const log = await readHead(reader);
    return { ...(await readRecords(reader)), walEpoch: log.epoch, walOffset: log.offset };
  } catch (error) {
    if (error instanceof PraaSError) throw error;
    throw new PraaSError("STORAGE_ERROR", `corrupt snapshot: ${String(error)}`);
  } finally {
    await reader.close();
  }
}

/** Checks the head; resolves the log position (none for version 1, written before logs). */
async function readHead(reader: ByteReader): Promise<LogPosition> {
  const head = await reader.read(MAGIC.length + 4);
  if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt("bad magic");
  const version = head.readUInt32LE(MAGIC.length);
  if (version === 1) return { epoch: 0, offset: 0 };
  if (version !== 2 && version !== VERSION) throw corrupt("unsupported version");
  const epoch = (await reader.read(4)).readUInt32LE(0);
  if (version === 2) return { epoch, offset: 0 };
  return { epoch, offset: Number((await reader.read(8)).readBigUInt64LE(0)) };
}

type Records = Omit<Snapshot, "walEpoch" | "walOffset">;

async function readRecords(reader: ByteReader): Promise<Records> {
  const snapshot: Records = { state: [], messages: [] };
  for (;;) {
    const kind = (await reader.read(1))[0];
    if (kind === Kind.State) snapshot.state.push(await readState(reader));
    else if (kind === Kind.Message) snapshot.messages.push(await readMessage(reader));
    else if (kind === Kind.End) return checkEnd(snapshot, await reader.read(8), reader);
    else throw corrupt(`unknown record kind ${kind}`);
  }
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
