/**
 * A snapshot in the format of version 4, the last one without a checksum, written byte by byte
 * as that version's encoder wrote it (not with today's encoder), so the tests can show that
 * snapshots swapped out before checksums existed still resume.
 */
export interface OldEntry {
  key: string;
  value: Buffer;
  updatedAt: number;
}

export interface OldMessage {
  key: string;
  source: string;
  value: Buffer;
}

export function snapshotV4(state: OldEntry[], messages: OldMessage[] = [], generation = 0): Buffer {
  // "PRAASNAP" u32 version, u32 walEpoch (0), u64 walOffset (0), u64 generation, u8 swapIdLen (0)
  const head = Buffer.alloc(8 + 4 + 4 + 8 + 8 + 1);
  head.write("PRAASNAP", 0, "latin1");
  head.writeUInt32LE(4, 8);
  head.writeBigUInt64LE(BigInt(generation), 24);
  head.writeUInt8(0, 32);
  const records = [
    ...state.map((entry) => stateRecord(entry)),
    ...messages.map((message) => messageRecord(message)),
  ];
  const end = Buffer.alloc(9);
  end.writeUInt32LE(state.length, 1);
  end.writeUInt32LE(messages.length, 5);
  return Buffer.concat([head, ...records, end]);
}

/** u8 1, u16 keyLen, key, f64 updatedAt, u32 valueLen, value */
function stateRecord(entry: OldEntry): Buffer {
  const updatedAt = Buffer.alloc(8);
  updatedAt.writeDoubleLE(entry.updatedAt);
  return Buffer.concat([Buffer.from([1]), str(entry.key), updatedAt, bytes(entry.value)]);
}

/** u8 2, u16 keyLen, key, u16 sourceLen, source, u32 valueLen, value */
function messageRecord(message: OldMessage): Buffer {
  return Buffer.concat([
    Buffer.from([2]),
    str(message.key),
    str(message.source),
    bytes(message.value),
  ]);
}

function str(value: string): Buffer {
  const text = Buffer.from(value);
  const length = Buffer.alloc(2);
  length.writeUInt16LE(text.length);
  return Buffer.concat([length, text]);
}

function bytes(value: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32LE(value.length);
  return Buffer.concat([length, value]);
}
