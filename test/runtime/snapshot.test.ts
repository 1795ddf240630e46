// Unit tests of the pieces a swap relies on: snapshot encoding and mailbox matching.
import { describe, expect, it } from "vitest";
import { Mailbox } from "../../src/runtime/mailbox.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/runtime/snapshot.js";

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

describe("mailbox", () => {
  it("matches by source and ANY, and hands a waiting get the next matching put", async () => {
    const box = new Mailbox();
    const fromP1 = box.get("p1", "k", 1000);
    box.put({ key: "k", source: "p2", value: Buffer.from("from p2") });
    box.put({ key: "k", source: "p1", value: Buffer.from("from p1") });
    expect((await fromP1).value.toString()).toBe("from p1");
    expect((await box.get("ANY", "k", 10)).value.toString()).toBe("from p2");
    expect(box.messages()).toEqual([]);
  });

  it("times out a get with TIMEOUT and forgets the waiter", async () => {
    const box = new Mailbox();
    await expect(box.get("ANY", "never", 20)).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(box.waiting).toBe(0);
    box.put({ key: "never", source: "x", value: Buffer.from("late") });
    expect(box.messages()).toHaveLength(1);
  });
});
