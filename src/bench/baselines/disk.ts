/** The swap baseline: write `bytes` to a file in 1 MiB writes, fsync, then read it back whole. */
import { randomBytes, randomFillSync } from "node:crypto";
import { open, readFile, rm } from "node:fs/promises";
import path from "node:path";

const CHUNK = 1024 * 1024;

export interface DiskTimes {
  writeUs: number;
  readUs: number;
}

export async function diskRoundTrip(dir: string, bytes: number): Promise<DiskTimes> {
  const file = path.join(dir, `disk-baseline-${randomBytes(4).toString("hex")}.bin`);
  const chunk = randomFillSync(Buffer.allocUnsafe(CHUNK));
  try {
    const start = performance.now();
    await writeSynced(file, chunk, bytes);
    const written = performance.now();
    const read = await readFile(file);
    if (read.length !== bytes) throw new Error(`read ${read.length} of ${bytes} bytes`);
    return { writeUs: (written - start) * 1000, readUs: (performance.now() - written) * 1000 };
  } finally {
    await rm(file, { force: true });
  }
}

async function writeSynced(file: string, chunk: Buffer, bytes: number): Promise<void> {
  const handle = await open(file, "w");
  try {
    for (let done = 0; done < bytes; done += chunk.length) {
      await handle.write(chunk, 0, Math.min(chunk.length, bytes - done));
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}
