// `memory` caps the whole process, off-heap memory included: a function that hoards Buffers
// gets OUT_OF_MEMORY, and the machine never sees the process grow past its limit.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storedEntryBytes } from "../../src/protocol/index.js";
import { defaultMaxStoredBytes } from "../../src/runtime/config.js";
import type { ProcessConnection } from "../../src/sdk/index.js";
import {
  bundleFixture,
  makeTempDir,
  rejection,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";
import { MIB, sampleTreeRss } from "../helpers/process-tree.js";

const LIMIT_MIB = 128;
/** Resident memory the tree may show: the limit, plus file-backed pages (the node binary) and slack. */
const TREE_BOUND = 512 * MIB;
/** What the hog would hold without a limit: far above the bound, far below the machine. */
const HOG = { mib: 768 };

interface Filled {
  stored: number;
  code?: string;
}

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let bundle: string;

beforeAll(async () => {
  temp = await makeTempDir("limits-memory");
  bundle = await bundleFixture("limits", temp.dir);
});

afterAll(async () => {
  await temp?.remove();
});

async function withProcess(
  name: string,
  args: string[],
  body: (proc: RunningProcess) => Promise<void>,
): Promise<void> {
  const proc = await startProcess({
    app: "limits",
    name,
    bundle,
    blobDir: temp.dir,
    memory: LIMIT_MIB,
    args,
  });
  try {
    await body(proc);
  } finally {
    await proc.stop();
  }
}

async function expectOutOfMemory(proc: RunningProcess, hog: object): Promise<void> {
  const conn = await proc.connect();
  const sampler = sampleTreeRss(proc.child.pid as number);
  try {
    const error = await rejection(conn.invoke("hog", JSON.stringify(hog)));
    expect(error.code).toBe("OUT_OF_MEMORY");
    expect(error.message).toContain(`exceeded the process memory limit of ${LIMIT_MIB} MiB`);
    expect(text(await conn.invoke("echo", "still here"))).toBe("still here");
  } finally {
    const peak = sampler.stop();
    console.log(`process tree resident memory peaked at ${Math.round(peak / MIB)} MiB`);
    expect(peak).toBeLessThan(TREE_BOUND);
    await conn.close();
  }
}

/** The `count` answer, trying again (at most `tries` times) while a worker dies of memory. */
async function countWithin(conn: ProcessConnection, tries: number): Promise<string> {
  for (let i = 1; ; i++) {
    try {
      return text(await conn.invoke("count"));
    } catch (error) {
      if (i >= tries || (error as { code?: string }).code !== "OUT_OF_MEMORY") throw error;
    }
  }
}

describe("process memory limit", () => {
  it("fails a function that keeps 1 MiB Buffers with OUT_OF_MEMORY; the process serves on", async () => {
    await withProcess("m1", [], (proc) => expectOutOfMemory(proc, HOG));
  });

  it("answers STATE_FULL, not OUT_OF_MEMORY, to a function storing empty values in a loop", async () => {
    await withProcess("m3", [], async (proc) => {
      const conn = await proc.connect();
      try {
        const worker = text(await conn.invoke("pid"));
        const { stored, code } = JSON.parse(text(await conn.invoke("fill", "f"))) as Filled;
        expect(code).toBe("STATE_FULL");
        // Each key counts its overhead: the default limit holds this many.
        const fits = Math.floor(defaultMaxStoredBytes(LIMIT_MIB) / storedEntryBytes("f100000", 0));
        expect(stored).toBeGreaterThan(fits * 0.9);
        expect(stored).toBeLessThanOrEqual(fits * 1.1);
        expect(text(await conn.invoke("pid"))).toBe(worker);
        const again = JSON.parse(text(await conn.invoke("fill", "g"))) as Filled;
        expect(again).toEqual({ stored: 0, code: "STATE_FULL" });
        // Listing a full state costs memory beside it: a worker may die of it, the process
        // (which holds the state) must not.
        expect(await countWithin(conn, 3)).toBe(String(stored));
        expect(proc.child.exitCode).toBeNull();
      } finally {
        await conn.close();
      }
    });
  });

  it("enforces the limit with the RSS watchdog alone where there is no cgroup", async () => {
    await withProcess("m2", ["--memory-guard", "watchdog"], (proc) =>
      expectOutOfMemory(proc, { ...HOG, pauseMs: 5 }),
    );
  });
});
