// The process side of state transactions, in-process: versions, the atomic commit step and
// increment, and a property test over random interleavings of transactions.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  PraaSError,
  decodeCommit,
  encodeCommit,
  storedEntryBytes,
  type TxRead,
  type TxWrite,
} from "../../src/protocol/index.js";
import { StateStore, StorageQuota } from "../../src/runtime/state-store.js";

const bytes = (text: string): Buffer => Buffer.from(text);

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof PraaSError) return error.code;
    throw error;
  }
  return "none";
}

describe("StateStore versions and commits", () => {
  it("stamps every put and delete with the next number of one process-wide clock", () => {
    const store = new StateStore();
    expect(store.read("a")).toEqual({ value: undefined, version: 0 });
    store.put("a", bytes("1"));
    store.put("b", bytes("2"));
    const a = store.version("a");
    expect(store.version("b")).toBeGreaterThan(a);
    store.put("a", bytes("3"));
    expect(store.version("a")).toBeGreaterThan(store.version("b"));
    expect(store.delete("a")).toBe(true);
    expect(store.read("a")).toEqual({ value: undefined, version: 0 });
  });

  it("commits every write at once, keeping first-write order and the byte count", () => {
    const store = new StateStore();
    store.put("x", bytes("old"));
    const reads: TxRead[] = [{ key: "x", version: store.version("x") }];
    store.commit(reads, [
      { key: "y", value: bytes("new") },
      { key: "x", value: undefined },
      { key: "z", value: bytes("zz") },
    ]);
    expect(store.keys().map(({ key }) => key)).toEqual(["y", "z"]);
    const weights = storedEntryBytes("y", 3) + storedEntryBytes("z", 2);
    expect([store.bytes, store.quota.used]).toEqual([5, weights]);
  });

  it("refuses a commit with a stale read or too many bytes, changing nothing", () => {
    const store = new StateStore(new StorageQuota(storedEntryBytes("x", 1) + 10));
    store.put("x", bytes("1"));
    const stale = [{ key: "x", version: store.version("x") - 1 }];
    expect(codeOf(() => store.commit(stale, [{ key: "y", value: bytes("v") }]))).toBe("CONFLICT");
    const big: TxWrite[] = [
      { key: "y", value: bytes("123456") },
      { key: "z", value: bytes("123456") },
    ];
    expect(codeOf(() => store.commit([], big))).toBe("STATE_FULL");
    expect(store.keys().map(({ key }) => key)).toEqual(["x"]);
    expect(store.quota.used).toBe(storedEntryBytes("x", 1));
  });

  it("restores what was accepted before even past the quota, and refuses new puts then", () => {
    // A snapshot taken under a larger quota, or counted before entries had an overhead.
    const store = new StateStore(new StorageQuota(storedEntryBytes("a", 1)));
    store.restore("a", bytes("1"), 1);
    store.restore("b", bytes("2"), 2);
    expect(store.keys().map(({ key }) => key)).toEqual(["a", "b"]);
    expect(store.quota.used).toBe(storedEntryBytes("a", 1) + storedEntryBytes("b", 1));
    expect(codeOf(() => store.put("c", bytes("")))).toBe("STATE_FULL");
    expect(store.delete("b")).toBe(true);
    expect(store.quota.used).toBe(storedEntryBytes("a", 1));
  });

  it("increments a decimal string and refuses a value that is not a number", () => {
    const store = new StateStore();
    expect(store.increment("n", 1)).toBe(1);
    expect(store.increment("n", 0.5)).toBe(1.5);
    expect(store.get("n")?.toString()).toBe("1.5");
    store.put("w", bytes("ten"));
    store.put("e", bytes(""));
    expect(codeOf(() => store.increment("w", 1))).toBe("BAD_REQUEST");
    expect(codeOf(() => store.increment("e", 1))).toBe("BAD_REQUEST");
    expect(codeOf(() => store.increment("n", Number.MAX_VALUE * 2))).toBe("BAD_REQUEST");
  });
});

// A transaction reads some keys, then writes values computed from what it read; plain puts
// and deletes (outside transactions) interleave with them. Each step of a schedule advances
// one of them, the way the process would see their frames.
const KEYS = ["a", "b", "c"];
const keySet = fc.subarray(KEYS);
const txSpec = fc.record({
  reads: keySet,
  writes: keySet,
  deletes: fc.boolean(),
  plain: fc.boolean(),
});
type TxSpec = { reads: string[]; writes: string[]; deletes: boolean; plain: boolean };

interface Run {
  spec: TxSpec;
  index: number;
  seen: (string | undefined)[];
  reads: TxRead[];
  done: boolean;
}

/** What transaction `index` writes, from what it read: a delete or a value naming both. */
function writesOf(spec: TxSpec, index: number, seen: (string | undefined)[]): TxWrite[] {
  return spec.writes.map((key, i) => {
    const deletes = spec.deletes && i === 0;
    return { key, value: deletes ? undefined : bytes(`${index}:${key}:${JSON.stringify(seen)}`) };
  });
}

/** One step of `run` against the store, as the process's handlers do it (the commit encoded). */
function step(store: StateStore, run: Run, committed: Run[]): void {
  const { spec } = run;
  try {
    if (!spec.plain && run.seen.length < spec.reads.length) {
      const key = spec.reads[run.seen.length]!;
      store.validate(run.reads);
      const { value, version } = store.read(key);
      run.seen.push(value?.toString());
      run.reads.push({ key, version });
      return;
    }
    const record = decodeCommit(
      encodeCommit({ reads: run.reads, writes: writesOf(spec, run.index, run.seen) }),
    );
    store.commit(record.reads, record.writes);
    committed.push(run);
  } catch (error) {
    if (!(error instanceof PraaSError) || error.code !== "CONFLICT") throw error;
  }
  run.done = true;
}

/** Runs the committed transactions one by one, in commit order, on a plain map. */
function serially(committed: Run[]): Map<string, string> {
  const state = new Map<string, string>();
  for (const run of committed) {
    const seen = run.spec.plain ? [] : run.spec.reads.map((key) => state.get(key));
    expect(seen).toEqual(run.seen); // it read what it would have read alone
    for (const { key, value } of writesOf(run.spec, run.index, seen)) {
      if (value === undefined) state.delete(key);
      else state.set(key, value.toString());
    }
  }
  return state;
}

describe("transactions over random schedules", () => {
  it("commit exactly as a serial execution in commit order; aborted ones leave no trace", () => {
    fc.assert(
      fc.property(
        fc.array(txSpec, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        (specs, schedule) => {
          const store = new StateStore();
          const runs = specs.map((spec, index) => ({
            spec,
            index,
            seen: [],
            reads: [],
            done: false,
          }));
          const committed: Run[] = [];
          for (const pick of schedule) {
            const open = runs.filter((run) => !run.done);
            if (open.length === 0) break;
            step(store, open[pick % open.length]!, committed);
          }
          const expected = serially(committed);
          const actual = new Map(store.keys().map(({ key }) => [key, store.get(key)!.toString()]));
          expect(actual).toEqual(expected);
          const values = [...expected.values()].map((v) => Buffer.byteLength(v));
          const total = values.reduce((sum, v) => sum + v, 0);
          const charged = [...expected].reduce(
            (sum, [key, v]) => sum + storedEntryBytes(key, Buffer.byteLength(v)),
            0,
          );
          expect([store.bytes, store.quota.used]).toEqual([total, charged]);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("StateStore undo of changes that could not be made durable", () => {
  it("undoing newest first restores values, versions, bytes and the quota exactly", () => {
    const quota = new StorageQuota(10_000);
    const store = new StateStore(quota);
    store.put("a", bytes("1"));
    store.put("b", bytes("22"));
    const before = { a: store.read("a"), b: store.read("b"), bytes: store.bytes, used: quota.used };
    const first = store.undoable(["a"], () => store.increment("a", 1));
    const second = store.undoable(["a", "b", "c"], () =>
      store.commit(
        [{ key: "a", version: store.version("a") }],
        [
          { key: "a", value: bytes("10") },
          { key: "b", value: undefined },
          { key: "c", value: bytes("333") },
        ],
      ),
    );
    expect(first.result).toBe(2);
    expect(store.get("c")?.toString()).toBe("333");
    second.undo();
    first.undo();
    expect({
      a: store.read("a"),
      b: store.read("b"),
      bytes: store.bytes,
      used: quota.used,
    }).toEqual(before);
    expect(store.get("c")).toBeUndefined();
  });

  it("leaves a key alone that a later change overwrote", () => {
    const store = new StateStore();
    const failed = store.undoable(["k"], () => store.put("k", bytes("failed")));
    store.put("k", bytes("later"));
    failed.undo();
    expect(store.get("k")?.toString()).toBe("later");
  });
});
