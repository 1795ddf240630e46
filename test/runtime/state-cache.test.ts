// The worker's state cache: read-your-writes, no stale value from a read that raced a write or a
// change notice, and a byte budget past which it starts over (keeping the race check).
import { describe, expect, it } from "vitest";
import { storedEntryBytes } from "../../src/protocol/index.js";
import { StateCache } from "../../src/runtime/worker/state-cache.js";

const bytes = (text: string): Buffer => Buffer.from(text);
const MAX_VALUE = 1024;

describe("StateCache", () => {
  it("caches local writes at once, including deletes as known-absent", () => {
    const cache = new StateCache(1024, MAX_VALUE);
    expect(cache.lookup("k")).toBeUndefined();
    cache.write("k", bytes("v1"));
    expect(cache.lookup("k")).toEqual(bytes("v1"));
    cache.write("k", null);
    expect(cache.lookup("k")).toBeNull();
  });

  it("remembers a read answer when nothing changed the key meanwhile", () => {
    const cache = new StateCache(1024, MAX_VALUE);
    const version = cache.version("k");
    cache.remember("k", bytes("from process"), version);
    expect(cache.lookup("k")).toEqual(bytes("from process"));
  });

  it("ignores a read answer that raced a local write", () => {
    const cache = new StateCache(1024, MAX_VALUE);
    const version = cache.version("k"); // the read is sent
    cache.write("k", bytes("new")); // a write happens before its answer
    cache.remember("k", bytes("old"), version);
    expect(cache.lookup("k")).toEqual(bytes("new"));
  });

  it("ignores a read answer that raced another worker's change", () => {
    const cache = new StateCache(1024, MAX_VALUE);
    cache.remember("k", bytes("v1"), cache.version("k"));
    const version = cache.version("k");
    cache.forget("k"); // StateChanged arrives before the answer
    cache.remember("k", bytes("stale"), version);
    expect(cache.lookup("k")).toBeUndefined();
  });

  it("forgets a key another worker changed", () => {
    const cache = new StateCache(1024, MAX_VALUE);
    cache.write("k", bytes("mine"));
    cache.forget("k");
    expect(cache.lookup("k")).toBeUndefined();
  });

  it("starts over past its budget, but still refuses a raced read afterwards", () => {
    const cache = new StateCache(10, MAX_VALUE);
    cache.write("a", bytes("123456"));
    const version = cache.version("b");
    cache.write("b", bytes("new!!!")); // 12 bytes > 10: everything is dropped
    expect(cache.lookup("a")).toBeUndefined();
    expect(cache.lookup("b")).toBeUndefined();
    cache.remember("b", bytes("old"), version);
    expect(cache.lookup("b")).toBeUndefined();
  });

  it("counts an overwritten or forgotten value once", () => {
    // Room for one entry of six bytes and its overhead, as the process counts them.
    const cache = new StateCache(storedEntryBytes("a", 6) + 4, MAX_VALUE);
    cache.write("a", bytes("123456"));
    cache.write("a", bytes("654321")); // replaces: counted once, not twice
    expect(cache.lookup("a")).toEqual(bytes("654321"));
    cache.forget("a");
    cache.write("b", bytes("abcdef")); // "a" no longer counts
    expect(cache.lookup("b")).toEqual(bytes("abcdef"));
  });

  it("keeps a value of exactly the budget and drops one over it", () => {
    const budget = storedEntryBytes("k", 10);
    const exact = new StateCache(budget, MAX_VALUE);
    exact.write("k", bytes("0123456789"));
    expect(exact.lookup("k")).toEqual(bytes("0123456789"));
    const over = new StateCache(budget, MAX_VALUE);
    over.write("k", bytes("0123456789x"));
    expect(over.lookup("k")).toBeUndefined();
  });
});
