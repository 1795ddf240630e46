/**
 * The BlobStore contract (src/storage/blob-store.ts) as one suite, run against every
 * implementation. `factory` opens a fresh, empty store for each test.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BlobStore } from "../../src/storage/blob-store.js";

const MiB = 1024 * 1024;

/** Deterministic, position-dependent bytes, so a reordered or dropped chunk is noticed. */
function pattern(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return bytes;
}

/** Chunks arriving one per event-loop turn, like a network source. */
export async function* chunksOf(bytes: Buffer, chunkSize: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    await nextTurn();
    yield bytes.subarray(offset, offset + chunkSize);
  }
}

async function readAll(stream: AsyncIterable<Buffer> | undefined): Promise<Buffer | undefined> {
  if (stream === undefined) return undefined;
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

/** A body that yields `head`, then waits for `release()` before failing or finishing. */
function gatedBody(head: Buffer, fail: boolean) {
  let release!: () => void;
  let reachedGate!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const waiting = new Promise<void>((resolve) => (reachedGate = resolve));
  async function* body(): AsyncGenerator<Uint8Array> {
    yield head;
    reachedGate();
    await gate;
    if (fail) throw new Error("body failed midway");
    yield Buffer.from("tail");
  }
  return { body: body(), waiting, release };
}

export function blobStoreConformance(name: string, factory: () => Promise<BlobStore>): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let store: BlobStore;

    beforeEach(async () => {
      store = await factory();
    });

    afterEach(async () => {
      await store.close();
    });

    it.each([
      ["empty", 0],
      ["small", 13],
    ])("round-trips a %s Uint8Array body", async (_label, size) => {
      const bytes = pattern(size);
      await expect(store.put("a/b", new Uint8Array(bytes))).resolves.toEqual({ size });
      expect(await readAll(await store.get("a/b"))).toEqual(bytes);
      expect(await store.getBytes("a/b")).toEqual(bytes);
    });

    it("round-trips 5 MiB streamed from an async generator, byte-exact", async () => {
      const bytes = pattern(5 * MiB + 4321, 3);
      await expect(store.put("big/blob", chunksOf(bytes, 64 * 1024))).resolves.toEqual({
        size: bytes.length,
      });
      const read = await readAll(await store.get("big/blob"));
      expect(read?.length).toBe(bytes.length);
      expect(read?.equals(bytes)).toBe(true);
      expect(await store.stat("big/blob")).toEqual({ size: bytes.length });
    });

    it("round-trips a synchronous iterable of chunks", async () => {
      const chunks = [Buffer.from("one,"), Buffer.alloc(0), Buffer.from("two")];
      await expect(store.put("sync", chunks)).resolves.toEqual({ size: 7 });
      expect((await store.getBytes("sync"))?.toString()).toBe("one,two");
    });

    it("round-trips an empty stream", async () => {
      await expect(store.put("empty", chunksOf(Buffer.alloc(0), 1))).resolves.toEqual({ size: 0 });
      expect(await store.getBytes("empty")).toEqual(Buffer.alloc(0));
    });

    it("overwrites an existing blob", async () => {
      await store.put("k", Buffer.from("first version"));
      await store.put("k", Buffer.from("second"));
      expect((await store.getBytes("k"))?.toString()).toBe("second");
      expect(await store.stat("k")).toEqual({ size: 6 });
    });

    it("reports missing keys as undefined", async () => {
      await store.put("present/x", Buffer.from("x"));
      expect(await store.get("absent")).toBeUndefined();
      expect(await store.getBytes("absent")).toBeUndefined();
      expect(await store.stat("absent")).toBeUndefined();
      expect(await store.get("present/absent")).toBeUndefined();
      expect(await store.stat("present")).toBeUndefined();
    });

    it("deletes: true when something was deleted, false when nothing was", async () => {
      await store.put("d/1", Buffer.from("1"));
      await expect(store.delete("d/1")).resolves.toBe(true);
      expect(await store.getBytes("d/1")).toBeUndefined();
      await expect(store.delete("d/1")).resolves.toBe(false);
      await expect(store.delete("never/there")).resolves.toBe(false);
    });

    it("lists keys with a prefix, sorted", async () => {
      const keys = ["swaps/b/p2", "swaps/a/p1", "swaps/b/p1", "bundles/app", "swaps/bb/p"];
      for (const key of keys) await store.put(key, Buffer.from(key));
      expect(await store.list("swaps/b/")).toEqual(["swaps/b/p1", "swaps/b/p2"]);
      expect(await store.list("swaps/b")).toEqual(["swaps/b/p1", "swaps/b/p2", "swaps/bb/p"]);
      expect(await store.list("")).toEqual([...keys].sort());
      expect(await store.list("nothing/")).toEqual([]);
    });

    it.each(["", "/abs", "a//b", "a/../b", "..", "a/.", "trailing/", "sp ace", "a\\b", "é"])(
      "rejects the invalid key %j with INVALID_NAME",
      async (key) => {
        const invalid = { code: "INVALID_NAME" };
        await expect(store.put(key, Buffer.from("x"))).rejects.toMatchObject(invalid);
        await expect(store.get(key)).rejects.toMatchObject(invalid);
        await expect(store.getBytes(key)).rejects.toMatchObject(invalid);
        await expect(store.stat(key)).rejects.toMatchObject(invalid);
        await expect(store.delete(key)).rejects.toMatchObject(invalid);
      },
    );

    it("rejects list prefixes that climb out of the store", async () => {
      await expect(store.list("../")).rejects.toMatchObject({ code: "INVALID_NAME" });
      await expect(store.list("/etc")).rejects.toMatchObject({ code: "INVALID_NAME" });
    });

    it("keeps the previous blob when the body fails midway", async () => {
      const before = pattern(1000, 5);
      await store.put("atomic", before);
      const { body, release } = gatedBody(pattern(2 * MiB, 6), true);
      release();
      await expect(store.put("atomic", body)).rejects.toMatchObject({ code: "STORAGE_ERROR" });
      expect(await store.getBytes("atomic")).toEqual(before);
      expect(await store.list("")).toEqual(["atomic"]); // no temp or partial leftovers
    });

    it("shows readers the old blob until a streamed put completes", async () => {
      await store.put("visible", Buffer.from("old"));
      const head = pattern(1024, 7);
      const { body, waiting, release } = gatedBody(head, false);
      const putting = store.put("visible", body);
      await waiting;
      expect((await store.getBytes("visible"))?.toString()).toBe("old");
      release();
      await expect(putting).resolves.toEqual({ size: head.length + 4 });
      expect(await store.getBytes("visible")).toEqual(Buffer.concat([head, Buffer.from("tail")]));
    });
  });
}
