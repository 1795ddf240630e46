// Unit tests of the pieces a swap relies on: snapshot encoding and mailbox matching.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Mailbox } from "../../src/runtime/mailbox.js";
import {
  ONE_READ_SNAPSHOT_BYTES,
  decodeSnapshot,
  decodeSnapshotHead,
  encodeSnapshot,
  readStoredSnapshot,
} from "../../src/runtime/snapshot.js";
import { openBlobStore, type BlobStore } from "../../src/storage/index.js";

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
});

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
    bytes.writeUInt32LE(5, 8);
    expect(await storageError(bytes)).toContain("unsupported version");
  });

  it("round-trips the log position, generation and swap id; reads versions 3, 2 and 1", async () => {
    const stamp = { generation: 2 ** 40 + 3, swapId: "swap-1" };
    const log = { epoch: 7, offset: 2 ** 33 + 5 };
    const v4 = collect(encodeSnapshot(state, messages, log, stamp));
    const decoded4 = await decodeSnapshot(chunked(v4, 5));
    expect(decoded4).toMatchObject({ walEpoch: 7, walOffset: 2 ** 33 + 5, ...stamp });
    expect(await decodeSnapshotHead(chunked(v4, 3))).toEqual({
      walEpoch: 7,
      ...stamp,
      walOffset: log.offset,
    });
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

  it("end-record counts that do not match the records", async () => {
    const bytes = whole();
    bytes.writeUInt32LE(state.length + 1, bytes.length - 8);
    expect(await storageError(bytes)).toContain("record counts do not match");
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
