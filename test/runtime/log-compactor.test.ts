// The log compactor in-process, on a real log file: when it starts, what position the snapshot
// it stores names, and that the log keeps only what came after.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogCompactor } from "../../src/runtime/log-compactor.js";
import type { LogPosition } from "../../src/runtime/snapshot.js";
import { WriteAheadLog, type WalOp } from "../../src/runtime/wal.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "praas-compactor-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const put = (key: string): WalOp[] => [
  { kind: "put", key, value: Buffer.alloc(100, 1), updatedAt: 1 },
];

async function setup(name: string, allowed = () => true) {
  const { wal } = await WriteAheadLog.open(path.join(dir, `${name}.wal`));
  await wal.reset(1);
  const stored: LogPosition[] = [];
  const compactor = new LogCompactor({
    minBytes: 1000,
    liveBytes: () => 10,
    allowed,
    capture: () => ({ state: [], messages: [] }),
    store: (_state, _messages, log) => Promise.resolve(void stored.push(log)),
    warn: () => undefined,
  });
  return { wal, stored, compactor };
}

describe("LogCompactor", () => {
  it("leaves a log below the threshold alone, then compacts it once past it", async () => {
    const { wal, stored, compactor } = await setup("grow");
    await wal.append(put("a"));
    compactor.check(wal);
    await compactor.idle();
    expect(stored).toEqual([]);
    for (let i = 0; i < 12; i++) await wal.append(put(`k${i}`));
    const size = wal.size;
    compactor.check(wal);
    await compactor.idle();
    expect(stored).toEqual([{ epoch: 1, offset: size }]);
    expect(wal.epoch).toBe(2);
    expect(wal.compactions).toBe(1);
    await wal.close();
  });

  it("starts nothing while the process may not compact (a swap runs)", async () => {
    const { wal, stored, compactor } = await setup("swapping", () => false);
    for (let i = 0; i < 12; i++) await wal.append(put(`k${i}`));
    compactor.check(wal);
    await compactor.idle();
    expect(stored).toEqual([]);
    expect(wal.epoch).toBe(1);
    await wal.close();
  });
});
