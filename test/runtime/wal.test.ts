// The write-ahead log on real files: round trip, group commit, torn tails (kept aside) versus
// corruption in the middle (refused, file untouched), reset, compaction, and a full disk (a
// real tmpfs) failing appends and undoing them.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, open, readFile, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mountSmallDisk } from "../helpers/small-disk.js";
import { PraaSError } from "../../src/protocol/index.js";
import {
  WriteAheadLog,
  decodeLog,
  encodeHead,
  encodeRecord,
  type HeldPosition,
  type WalOp,
} from "../../src/runtime/wal.js";

let dir: string;
let files = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "praas-wal-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HEAD = encodeHead(1).length;

function nextFile(): string {
  return path.join(dir, "nested", `${++files}.wal`);
}

const everyKind: WalOp[] = [
  { kind: "put", key: "a", value: Buffer.from("one"), updatedAt: 1.5 },
  { kind: "put", key: "ключ", value: Buffer.alloc(0), updatedAt: 2 },
  { kind: "delete", key: "a" },
  { kind: "mail", key: "m", source: "p2", value: Buffer.from("hi") },
  { kind: "taken", key: "m", source: "p2" },
  { kind: "returned", key: "m", source: "p2", value: Buffer.from("hi") },
];

/** Ops as plain data, so Buffers compare by content. */
function plain(ops: readonly WalOp[]): unknown[] {
  return ops.map((op) => ("value" in op ? { ...op, value: op.value.toString("hex") } : op));
}

/** A new log, ready for appends (epoch 1). */
async function create(file: string): Promise<WriteAheadLog> {
  const { wal } = await WriteAheadLog.open(file);
  await wal.reset(1);
  return wal;
}

async function reopen(file: string): Promise<WalOp[]> {
  const { wal, replay } = await WriteAheadLog.open(file);
  await wal.close();
  return replay.ops;
}

describe("write-ahead log", () => {
  it("replays every kind of op in append order after a reopen", async () => {
    const file = nextFile();
    const wal = await create(file);
    await wal.append(everyKind.slice(0, 2));
    await wal.append(everyKind.slice(2));
    await wal.close();
    expect(plain(await reopen(file))).toEqual(plain(everyKind));
  });

  it("group-commits concurrent appends: fewer syncs than appends, all on disk", async () => {
    const file = nextFile();
    const wal = await create(file);
    const ops = Array.from({ length: 64 }, (_, i): WalOp => ({ kind: "delete", key: `k${i}` }));
    await Promise.all(ops.map((op) => wal.append([op])));
    expect(wal.appends).toBe(64);
    expect(wal.syncs).toBeLessThan(64);
    await wal.close();
    expect(plain(await reopen(file))).toEqual(plain(ops));
  });

  it("drops a torn tail, keeps its bytes beside the log, and appends after the last good record", async () => {
    const file = nextFile();
    const wal = await create(file);
    await wal.append([everyKind[0]!]);
    await wal.append([everyKind[3]!]);
    await wal.close();
    const whole = await readFile(file);
    const kept = HEAD + encodeRecord([everyKind[0]!]).length;
    await truncate(file, whole.length - 3);
    const { wal: again, replay } = await WriteAheadLog.open(file);
    expect(plain(replay.ops)).toEqual(plain([everyKind[0]!]));
    expect(replay).toMatchObject({ validBytes: kept, droppedBytes: whole.length - 3 - kept });
    expect(replay.corruptAt).toBeUndefined();
    expect(path.basename(replay.keptAt ?? "")).toMatch(/^\d+\.wal\.torn-\d+$/);
    expect(await readFile(replay.keptAt!)).toEqual(whole.subarray(kept, whole.length - 3));
    await again.append([everyKind[2]!]);
    await again.close();
    expect(plain(await reopen(file))).toEqual(plain([everyKind[0]!, everyKind[2]!]));
  });

  it("never misreads a changed last record: it is dropped as a torn tail", async () => {
    const file = nextFile();
    const first = encodeRecord([everyKind[0]!]);
    const second = encodeRecord([everyKind[3]!]);
    second[second.length - 1]! ^= 0xff;
    await writeFile(file, Buffer.concat([encodeHead(1), first, second]));
    expect(plain(await reopen(file))).toEqual(plain([everyKind[0]!]));
    expect((await readFile(file)).length).toBe(HEAD + first.length);
  });

  it("takes a tail of zeros after a torn record (a file grown, not written) for torn", async () => {
    const file = nextFile();
    const first = encodeRecord([everyKind[0]!]);
    const torn = encodeRecord([everyKind[3]!]).subarray(0, 9);
    await writeFile(file, Buffer.concat([encodeHead(1), first, torn, Buffer.alloc(4096)]));
    const { wal, replay } = await WriteAheadLog.open(file);
    await wal.close();
    expect(plain(replay.ops)).toEqual(plain([everyKind[0]!]));
    expect(replay.corruptAt).toBeUndefined();
    expect((await readFile(file)).length).toBe(HEAD + first.length);
  });

  it("takes a damaged record whose length points at or just short of the end for torn", () => {
    const first = encodeRecord([everyKind[0]!]);
    const second = encodeRecord([everyKind[3]!]);
    second[second.length - 1]! ^= 0xff;
    for (const tail of [0, 2, 7, 8]) {
      const log = Buffer.concat([encodeHead(1), first, second, Buffer.alloc(tail, 0x04)]);
      const replay = decodeLog(log);
      expect(replay).toMatchObject({ validBytes: HEAD + first.length });
      expect(replay.corruptAt).toBeUndefined();
    }
  });

  describe("corrupt in the middle (whole records follow the damaged one)", () => {
    /** Six records, one op each; the log's bytes and where each record starts. */
    async function sixRecords(file: string): Promise<{ bytes: Buffer; starts: number[] }> {
      const records = everyKind.map((op) => encodeRecord([op]));
      const bytes = Buffer.concat([encodeHead(1), ...records]);
      const starts = records.map((_, i) =>
        records.slice(0, i).reduce((at, r) => at + r.length, HEAD),
      );
      await writeFile(file, bytes);
      return { bytes, starts };
    }

    async function refusal(file: string, held?: HeldPosition): Promise<PraaSError> {
      return WriteAheadLog.open(file, held).then(
        async ({ wal }) => {
          await wal.close();
          throw new Error("the log was opened");
        },
        (error: unknown) => error as PraaSError,
      );
    }

    it("refuses to open, naming the file and offset, and leaves every byte in place", async () => {
      const file = nextFile();
      const { bytes, starts } = await sixRecords(file);
      const damaged = Buffer.from(bytes);
      damaged[starts[1]! + 12]! ^= 0x01; // inside the second record's body
      await writeFile(file, damaged);
      const error = await refusal(file);
      expect(error).toBeInstanceOf(PraaSError);
      expect(error.code).toBe("STORAGE_ERROR");
      expect(error.message).toBe(
        `write-ahead log ${file} is corrupt at byte ${starts[1]} with intact records after it; ` +
          "not replayed (kept as is)",
      );
      expect(await readFile(file)).toEqual(damaged);
      expect(await readdir(path.dirname(file))).not.toContain(`${path.basename(file)}.owner`);
      // The intact records are still there for a repair: from the third record on they decode.
      const after = Buffer.concat([encodeHead(1), damaged.subarray(starts[2])]);
      expect(plain(decodeLog(after).ops)).toEqual(plain(everyKind.slice(2)));
      // Refused again at the next try, never cut: a restart does not make it a torn tail.
      expect((await refusal(file)).code).toBe("STORAGE_ERROR");
      expect(await readFile(file)).toEqual(damaged);
    });

    it("refuses too when the damaged record's length field was changed", async () => {
      const file = nextFile();
      const { bytes, starts } = await sixRecords(file);
      for (const flip of [0x01, 0x80]) {
        const damaged = Buffer.from(bytes);
        damaged[starts[1]! + (flip === 0x80 ? 3 : 0)]! ^= flip; // low byte, then high byte
        await writeFile(file, damaged);
        expect((await refusal(file)).message).toMatch(`corrupt at byte ${starts[1]} `);
        expect(await readFile(file)).toEqual(damaged);
      }
    });

    it("refuses a log whose head was changed when records follow it", async () => {
      const file = nextFile();
      const { bytes } = await sixRecords(file);
      const damaged = Buffer.from(bytes);
      damaged[2]! ^= 0x20;
      await writeFile(file, damaged);
      expect((await refusal(file)).message).toMatch("corrupt at byte 0 ");
      expect(await readFile(file)).toEqual(damaged);
    });

    it("is opened when a snapshot holds the whole log: the damage is cut and kept aside", async () => {
      const file = nextFile();
      const { bytes, starts } = await sixRecords(file);
      const damaged = Buffer.from(bytes);
      damaged[starts[1]! + 12]! ^= 0x01;
      await writeFile(file, damaged);
      const { wal, replay } = await WriteAheadLog.open(file, { epoch: 2, offset: 0 });
      await wal.close();
      expect(replay.corruptAt).toBe(starts[1]);
      expect(await readFile(replay.keptAt!)).toEqual(damaged.subarray(starts[1]));
      // A snapshot of the log's own epoch from an offset needs the records after it: refused.
      await writeFile(file, damaged);
      expect((await refusal(file, { epoch: 1, offset: starts[1]! })).code).toBe("STORAGE_ERROR");
    });
  });

  it("reset empties the log and starts the epoch it is given", async () => {
    const file = nextFile();
    const wal = await create(file);
    await wal.append(everyKind);
    await wal.reset(2);
    await wal.append([everyKind[2]!]);
    await wal.close();
    const { wal: again, replay } = await WriteAheadLog.open(file);
    await again.close();
    expect(replay.epoch).toBe(2);
    expect(plain(replay.ops)).toEqual(plain([everyKind[2]!]));
  });

  it("a file without a whole head holds nothing and takes no appends until reset", async () => {
    const file = nextFile();
    const wal = await create(file);
    await wal.append(everyKind);
    await wal.close();
    await truncate(file, 5);
    const { wal: again, replay } = await WriteAheadLog.open(file);
    expect(replay).toMatchObject({ epoch: undefined, ops: [], droppedBytes: 5 });
    await expect(again.append(everyKind)).rejects.toMatchObject({ code: "INTERNAL" });
    await again.close();
  });

  it("property: a log cut at any byte replays exactly a prefix of the appended ops", async () => {
    const text = fc.string({ minLength: 1, maxLength: 12 });
    const bytes = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b));
    const op: fc.Arbitrary<WalOp> = fc.oneof(
      fc.record({
        kind: fc.constant("put" as const),
        key: text,
        value: bytes,
        updatedAt: fc.double({ noNaN: true }),
      }),
      fc.record({ kind: fc.constant("delete" as const), key: text }),
      fc.record({ kind: fc.constant("mail" as const), key: text, source: text, value: bytes }),
      fc.record({ kind: fc.constant("taken" as const), key: text, source: text }),
      fc.record({ kind: fc.constant("returned" as const), key: text, source: text, value: bytes }),
    );
    const batches = fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(
        batches,
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (appended, at) => {
          const file = nextFile();
          const wal = await create(file);
          await Promise.all(appended.map((ops) => wal.append(ops)));
          await wal.close();
          const whole = await readFile(file);
          const head = encodeHead(1).length;
          const cut = head + Math.floor(at * (whole.length - head));
          await truncate(file, cut);
          const replayed = await reopen(file);
          const ops = appended.flat();
          expect(plain(replayed)).toEqual(plain(ops.slice(0, replayed.length)));
          // Exactly the whole records before the cut: a cut at a record boundary loses nothing more.
          const wholeRecords = recordsWithin(appended, cut - head);
          expect(replayed.length).toBe(wholeRecords);
          await rm(file);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("compaction keeps the records from an offset on, in a new epoch; appends during it follow", async () => {
    const file = nextFile();
    const wal = await create(file);
    await wal.append([everyKind[0]!]);
    const offset = await wal.durableUpTo(wal.issuedEnd);
    await wal.append([everyKind[3]!]);
    const compacted = wal.compact(offset, 2);
    const during = wal.append([everyKind[2]!]);
    await Promise.all([compacted, during]);
    await wal.append([everyKind[4]!]);
    await wal.close();
    const { wal: again, replay } = await WriteAheadLog.open(file);
    await again.close();
    expect(replay.epoch).toBe(2);
    expect(plain(replay.ops)).toEqual(plain([everyKind[3]!, everyKind[2]!, everyKind[4]!]));
    expect(wal.compactions).toBe(1);
  });

  it("replays only past the offset a snapshot of the same epoch holds, all of a newer epoch", async () => {
    const file = nextFile();
    const wal = await create(file);
    await wal.append([everyKind[0]!]);
    const offset = await wal.durableUpTo(wal.issuedEnd);
    await wal.append([everyKind[3]!]);
    await wal.close();
    const same = await WriteAheadLog.open(file, { epoch: 1, offset });
    await same.wal.close();
    expect(plain(same.replay.ops)).toEqual(plain([everyKind[3]!]));
    const older = await WriteAheadLog.open(file, { epoch: 0, offset });
    await older.wal.close();
    expect(plain(older.replay.ops)).toEqual(plain([everyKind[0]!, everyKind[3]!]));
  });

  it("on a full disk fails every pending append, undoes them newest first, then works again", async () => {
    const disk = await mountSmallDisk("wal-full", 1);
    try {
      const file = path.join(disk.root, "full.wal");
      const wal = await create(file);
      await wal.append([{ kind: "delete", key: "kept" }]);
      const big = (key: string): WalOp[] => [
        { kind: "put", key, value: Buffer.alloc(400 * 1024, 1), updatedAt: 1 },
      ];
      const undone: string[] = [];
      const appends = ["a", "b", "c"].map((key) => wal.append(big(key), () => undone.push(key)));
      const marker = wal.durableUpTo(wal.issuedEnd);
      const results = await Promise.allSettled([...appends, marker]);
      expect(results.map((r) => r.status)).toEqual(Array(4).fill("rejected"));
      expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: "STORAGE_ERROR" });
      expect(undone).toEqual(["c", "b", "a"]);
      expect(wal.issuedEnd).toBe(wal.size);
      await wal.append([{ kind: "delete", key: "after" }]);
      await wal.close();
      const keys = (await reopen(file)).map((op) => op.key);
      expect(keys).toEqual(["kept", "after"]);
    } finally {
      await disk.unmount();
    }
  });

  it("takes no appends after a failed write it could not cut off, until a reset", async () => {
    const disk = await mountSmallDisk("wal-uncut", 1);
    // The cut (a shrinking truncate) fails only on an I/O error no test can provoke: fail it here.
    const probe = await open(path.join(disk.root, "probe"), "w");
    await probe.close();
    const handles = Object.getPrototypeOf(probe) as {
      truncate: (this: unknown, length?: number) => Promise<void>;
    };
    const truncateFile = handles.truncate;
    try {
      const file = path.join(disk.root, "uncut.wal");
      const wal = await create(file);
      await wal.append([{ kind: "delete", key: "kept" }]);
      handles.truncate = () => Promise.reject(new Error("EIO: simulated"));
      const big = [
        { kind: "put", key: "big", value: Buffer.alloc(2 * 1024 * 1024, 1), updatedAt: 1 },
      ];
      await expect(wal.append(big as WalOp[])).rejects.toMatchObject({ code: "STORAGE_ERROR" });
      handles.truncate = truncateFile;
      const refused = wal.append([{ kind: "delete", key: "refused" }]);
      await expect(refused).rejects.toThrow(/could not be cut off/);
      await wal.reset(2);
      await wal.append([{ kind: "delete", key: "after" }]);
      await wal.close();
      expect((await reopen(file)).map((op) => op.key)).toEqual(["after"]);
    } finally {
      handles.truncate = truncateFile;
      await disk.unmount();
    }
  });

  it("is held by one opener at a time: others wait, fail while the holder lives, get it once it closes", async () => {
    const file = nextFile();
    const first = await create(file);
    await expect(WriteAheadLog.open(file, undefined, 200)).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    const waiting = WriteAheadLog.open(file, undefined, 30_000);
    await first.append([{ kind: "delete", key: "by-first" }]);
    await first.close(); // releases it
    const { wal, replay } = await waiting;
    await wal.close();
    expect(replay.ops.map((op) => op.key)).toEqual(["by-first"]);
  });

  it("takes over the claim of a holder that died without releasing it", async () => {
    const file = nextFile();
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await once(child, "exit"); // its pid names no live process now
    await mkdir(path.dirname(file), { recursive: true });
    const claim = { host: hostname(), pid: child.pid, start: "0" };
    await writeFile(`${file}.owner`, JSON.stringify(claim));
    const { wal } = await WriteAheadLog.open(file, undefined, 30_000);
    const owner = JSON.parse(await readFile(`${file}.owner`, "utf8")) as { pid: number };
    expect(owner.pid).toBe(process.pid);
    await wal.close();
    await expect(readFile(`${file}.owner`)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("decodes an empty log as nothing", () => {
    expect(decodeLog(Buffer.alloc(0))).toEqual({
      epoch: undefined,
      ops: [],
      validBytes: 0,
      droppedBytes: 0,
    });
  });
});

/** Ops in the records that fit whole into the first `cut` bytes. */
function recordsWithin(batches: WalOp[][], cut: number): number {
  let bytes = 0;
  let ops = 0;
  for (const batch of batches) {
    bytes += encodeRecord(batch).length;
    if (bytes > cut) break;
    ops += batch.length;
  }
  return ops;
}
