// Unit tests of the pieces a swap relies on: snapshot encoding and mailbox matching.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { Mailbox } from "../../src/runtime/mailbox.js";
import {
  ONE_READ_SNAPSHOT_BYTES,
  decodeSnapshot,
  decodeSnapshotHead,
  encodeSnapshot,
  readStoredSnapshot,
  type Snapshot,
} from "../../src/runtime/snapshot.js";
import { openBlobStore, type BlobStore } from "../../src/storage/index.js";
import { snapshotV4 } from "../helpers/snapshot-v4.js";

function collect(chunks: Iterable<Buffer>): Buffer {
  return Buffer.concat([...chunks]);
}

function* chunked(bytes: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const state = [
  { key: "a", value: Buffer.from("one"), updatedAt: 1.5 },
  { key: "ключ", value: Buffer.alloc(0), updatedAt: 2 },
  { key: "big", value: Buffer.alloc(100_000, 9), updatedAt: 3 },
];
const messages = [{ key: "m", source: "p2", value: Buffer.from("hi") }];

describe("snapshot", () => {
  it.each([1, 7, 4096, 1 << 20])(
    "round-trips state and messages read in %i-byte chunks",
    async (size) => {
      const bytes = collect(encodeSnapshot(state, messages));
      const decoded = await decodeSnapshot(chunked(bytes, size));
      expect(decoded.state.map((e) => [e.key, e.value.toString("hex"), e.updatedAt])).toEqual(
        state.map((e) => [e.key, e.value.toString("hex"), e.updatedAt]),
      );
      expect(decoded.messages.map((m) => [m.key, m.source, m.value.toString()])).toEqual([
        ["m", "p2", "hi"],
      ]);
    },
  );

  it("rejects a truncated snapshot with STORAGE_ERROR", async () => {
    const bytes = collect(encodeSnapshot(state, messages));
    for (const cut of [0, 5, 20, bytes.length - 1]) {
      await expect(decodeSnapshot(chunked(bytes.subarray(0, cut), 64))).rejects.toMatchObject({
        code: "STORAGE_ERROR",
      });
    }
  });

  it("rejects foreign bytes with STORAGE_ERROR", async () => {
    await expect(
      decodeSnapshot(chunked(Buffer.from("not a snapshot at all"), 4)),
    ).rejects.toMatchObject({
      code: "STORAGE_ERROR",
    });
  });
});

/** A real disk blob store that notes how each blob was read back. */
function noting(blobs: BlobStore, reads: string[]): BlobStore {
  return Object.assign(Object.create(blobs) as BlobStore, {
    get: (key: string) => (reads.push("stream"), blobs.get(key)),
    getBytes: (key: string) => (reads.push("one read"), blobs.getBytes(key)),
  });
}

describe("reading a stored snapshot back (a resume)", () => {
  it("reads a small snapshot in one read and a large one as a stream; none stored: undefined", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "praas-snapshot-"));
    const blobs = await openBlobStore({ kind: "disk", root: dir });
    try {
      const reads: string[] = [];
      const store = noting(blobs, reads);
      const large = { key: "large", value: Buffer.alloc(ONE_READ_SNAPSHOT_BYTES, 7), updatedAt: 4 };
      await blobs.put("swaps/a/small", encodeSnapshot(state, messages));
      await blobs.put("swaps/a/large", encodeSnapshot([...state, large], []));
      const small = await readStoredSnapshot(store, "swaps/a/small");
      const big = await readStoredSnapshot(store, "swaps/a/large");
      expect(small?.state.map((e) => e.key)).toEqual(["a", "ключ", "big"]);
      expect(small?.messages.map((m) => m.value.toString())).toEqual(["hi"]);
      expect(big?.state.at(-1)?.value.equals(large.value)).toBe(true);
      expect(reads).toEqual(["one read", "stream"]);
      expect(await readStoredSnapshot(store, "swaps/a/none")).toBeUndefined();
    } finally {
      await blobs.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a damaged one, read in one piece or as a stream, naming its key", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "praas-snapshot-"));
    const blobs = await openBlobStore({ kind: "disk", root: dir });
    try {
      const large = { key: "large", value: Buffer.alloc(ONE_READ_SNAPSHOT_BYTES, 7), updatedAt: 4 };
      for (const [name, entries] of [
        ["small", state],
        ["large", [...state, large]],
      ] as const) {
        const bytes = collect(encodeSnapshot(entries, messages));
        const middle = Math.floor(bytes.length / 2);
        for (let i = middle; i < middle + 3; i++) bytes[i] = bytes[i]! ^ 0xff;
        await blobs.put(`swaps/a/${name}`, [bytes]);
        await expect(readStoredSnapshot(blobs, `swaps/a/${name}`)).rejects.toMatchObject({
          code: "STORAGE_ERROR",
          message: `corrupt snapshot: checksum mismatch (swaps/a/${name})`,
        });
      }
    } finally {
      await blobs.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** State and messages with values as hex: compared as strings, not byte by byte as objects. */
function contents(snapshot: Pick<Snapshot, "state" | "messages">): unknown {
  return {
    state: snapshot.state.map((e) => [e.key, e.value.toString("hex"), e.updatedAt]),
    messages: snapshot.messages.map((m) => [m.key, m.source, m.value.toString("hex")]),
  };
}

/** `content` followed by its CRC-32, as version 5 ends. */
function sealed(content: Buffer): Buffer {
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(crc32(content));
  return Buffer.concat([content, trailer]);
}

describe("snapshot decoding refuses anything but a whole, well-formed snapshot", () => {
  const whole = (): Buffer => collect(encodeSnapshot(state, messages));
  // "PRAASNAP" + u32 version + u32 walEpoch + u64 walOffset + u64 generation + u8 swapIdLen ("")
  const HEAD = 8 + 4 + 4 + 8 + 8 + 1;

  /** The decoding error of `bytes`; fails the test unless it is a STORAGE_ERROR. */
  async function storageError(bytes: Buffer | Iterable<Buffer>): Promise<string> {
    const chunks = Buffer.isBuffer(bytes) ? chunked(bytes, 4096) : bytes;
    const error = (await decodeSnapshot(chunks).then(
      () => new Error("decoded"),
      (reason: unknown) => reason,
    )) as { code?: string; message: string };
    expect(error.code).toBe("STORAGE_ERROR");
    return error.message;
  }

  it("an empty blob", async () => {
    expect(await storageError(Buffer.alloc(0))).toContain("truncated");
  });

  it("an unsupported version", async () => {
    const bytes = whole();
    bytes.writeUInt32LE(6, 8);
    expect(await storageError(bytes)).toContain("unsupported version");
  });

  it("round-trips the log position, generation and swap id; reads versions 4, 3, 2 and 1", async () => {
    const stamp = { generation: 2 ** 40 + 3, swapId: "swap-1" };
    const log = { epoch: 7, offset: 2 ** 33 + 5 };
    const v5 = collect(encodeSnapshot(state, messages, log, stamp));
    const decoded5 = await decodeSnapshot(chunked(v5, 5));
    expect(decoded5).toMatchObject({ walEpoch: 7, walOffset: 2 ** 33 + 5, ...stamp });
    expect(await decodeSnapshotHead(chunked(v5, 3))).toEqual({
      walEpoch: 7,
      ...stamp,
      walOffset: log.offset,
    });
    // Version 4 is version 5 without the checksum.
    const v4 = Buffer.from(v5.subarray(0, -4));
    v4.writeUInt32LE(4, 8);
    expect(contents(await decodeSnapshot(chunked(v4, 5)))).toEqual(contents(decoded5));
    const v3 = Buffer.concat([v4.subarray(0, 24), v4.subarray(24 + 9 + stamp.swapId.length)]);
    v3.writeUInt32LE(3, 8);
    const decoded3 = await decodeSnapshot(chunked(v3, 5));
    expect(decoded3).toMatchObject({
      walEpoch: 7,
      walOffset: 2 ** 33 + 5,
      generation: 0,
      swapId: "",
    });
    const v2 = Buffer.concat([v3.subarray(0, 16), v3.subarray(24)]);
    v2.writeUInt32LE(2, 8);
    const decoded2 = await decodeSnapshot(chunked(v2, 5));
    expect([decoded2.walEpoch, decoded2.walOffset]).toEqual([7, 0]);
    const v1 = Buffer.concat([v3.subarray(0, 12), v3.subarray(24)]);
    v1.writeUInt32LE(1, 8);
    const decoded1 = await decodeSnapshot(chunked(v1, 5));
    expect([decoded1.walEpoch, decoded1.walOffset]).toEqual([0, 0]);
    expect(decoded1.state).toHaveLength(state.length);
  });

  it("an unknown record kind", async () => {
    const bytes = whole();
    bytes[HEAD] = 7;
    expect(await storageError(bytes)).toContain("unknown record kind 7");
  });

  it("end-record counts that do not match the records (with a checksum that matches)", async () => {
    const content = whole().subarray(0, -4);
    content.writeUInt32LE(state.length + 1, content.length - 8);
    expect(await storageError(sealed(content))).toContain("record counts do not match");
  });

  it("bytes after the end record", async () => {
    expect(await storageError(Buffer.concat([whole(), Buffer.from([0])]))).toContain(
      "bytes after the end record",
    );
  });

  it("a value length far beyond the blob, without allocating it", async () => {
    const bytes = whole();
    // The first record is state "a": kind, u16 keyLen, "a", f64 updatedAt, then u32 valueLen.
    bytes.writeUInt32LE(0xffffffff, HEAD + 1 + 2 + 1 + 8);
    expect(await storageError(bytes)).toContain("truncated");
  });

  it("a blob whose stream fails half-way", async () => {
    function* failing(): Generator<Buffer> {
      yield whole().subarray(0, 30);
      throw new Error("EIO: read failed");
    }
    expect(await storageError(failing())).toContain("EIO");
  });

  it("ends with the CRC-32 of every byte before it", () => {
    const bytes = whole();
    expect(bytes.readUInt32LE(8)).toBe(5);
    expect(sealed(bytes.subarray(0, -4)).equals(bytes)).toBe(true);
  });

  it("a damaged value: checksum mismatch, in one piece and in any chunking", async () => {
    const bytes = whole();
    const middle = Math.floor(bytes.length / 2); // inside the 100 kB value of "big"
    for (let i = middle; i < middle + 3; i++) bytes[i] = bytes[i]! ^ 0x5a;
    for (const size of [1, 7, 4096, bytes.length]) {
      expect(await storageError(chunked(bytes, size))).toBe("corrupt snapshot: checksum mismatch");
    }
  });

  it("one damaged byte anywhere, in the head, a key, a value, a count or the checksum", async () => {
    const small = collect(encodeSnapshot(state.slice(0, 2), messages, { epoch: 3, offset: 9 }));
    for (let at = 0; at < small.length; at++) {
      const bytes = Buffer.from(small);
      bytes[at] = bytes[at]! ^ 0x01;
      expect(await storageError(bytes), `byte ${at}`).toMatch(/^corrupt snapshot: /);
    }
  });

  it("a damaged count in the end record is the damage it is, not a count mismatch", async () => {
    const bytes = whole();
    bytes.writeUInt32LE(state.length + 1, bytes.length - 12);
    expect(await storageError(bytes)).toBe("corrupt snapshot: checksum mismatch");
  });

  it("a version 4 snapshot (no checksum), byte for byte as that version wrote it", async () => {
    const old = snapshotV4(state, messages, 6);
    for (const size of [7, old.length]) {
      const decoded = await decodeSnapshot(chunked(old, size));
      expect(decoded).toMatchObject({ generation: 6, swapId: "", walEpoch: 0, walOffset: 0 });
      expect(contents(decoded)).toEqual(contents({ state, messages }));
    }
  });

  it("an empty snapshot decodes to no state and no messages", async () => {
    const decoded = await decodeSnapshot(chunked(collect(encodeSnapshot([], [])), 3));
    expect(decoded).toEqual({
      ...{ state: [], messages: [], walEpoch: 0, walOffset: 0 },
      ...{ generation: 0, swapId: "" },
    });
  });
});

describe("mailbox", () => {
  it("matches by source and ANY, and hands a waiting get the next matching put", async () => {
    const box = new Mailbox();
    const fromP1 = box.get("p1", "k", 1000);
    await box.put({ key: "k", source: "p2", value: Buffer.from("from p2") });
    await box.put({ key: "k", source: "p1", value: Buffer.from("from p1") });
    expect((await fromP1).value.toString()).toBe("from p1");
    expect((await box.get("ANY", "k", 10)).value.toString()).toBe("from p2");
    expect(box.messages()).toEqual([]);
  });

  it("times out a get with TIMEOUT and forgets the waiter", async () => {
    const box = new Mailbox();
    await expect(box.get("ANY", "never", 20)).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(box.waiting).toBe(0);
    await box.put({ key: "never", source: "x", value: Buffer.from("late") });
    expect(box.messages()).toHaveLength(1);
  });
});
