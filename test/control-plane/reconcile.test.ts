// Records a control-plane crash left mid-operation are reconciled to a status the user can go
// on from; a new process never starts from an earlier one's snapshot; deleting a failed process
// that still runs stops it.
import { copyFile, mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ControlPlaneOptions } from "../../src/control-plane/config.js";
import type { ProcessStatus } from "../../src/protocol/index.js";
import type { PraaS } from "../../src/sdk/index.js";
import { RedisMetadataStore } from "../../src/storage/redis-metadata-store.js";
import type { ProcessRecord } from "../../src/storage/index.js";
import { portClosed } from "../helpers/praas-up.js";
import { text } from "../helpers/process-harness.js";
import { useRedisPlanes } from "../helpers/redis-planes.js";

const planes = useRedisPlanes("reconcile");
let store: RedisMetadataStore | undefined;

beforeAll(async () => {
  store = await RedisMetadataStore.open({ url: planes.redisUrl() });
});

afterAll(async () => {
  await store?.close();
});

const startPlane = (options?: ControlPlaneOptions): Promise<PraaS> => planes.start(options);

const snapshotFile = (name: string): string =>
  path.join(planes.dir(), "blobs", "swaps", "suite", name);

/** Forces a stored record into `status`, as a crash in the middle of an operation leaves it. */
async function force(name: string, status: ProcessStatus): Promise<void> {
  const record = await store!.getProcess("suite", name);
  const updated = await store!.updateProcess("suite", name, record!.revision, {
    status,
    updatedAt: Date.now() - 1000,
  });
  expect(updated?.status).toBe(status);
}

async function orphanRecord(name: string, status: ProcessStatus): Promise<void> {
  const record: ProcessRecord = {
    app: "suite",
    name,
    status,
    resources: { vcpus: 1, memory: 256 },
    secret: `secret-${name}`,
    createdAt: Date.now() - 1000,
    updatedAt: Date.now() - 1000,
    revision: 0,
  };
  expect(await store!.createProcess(record)).toBe(true);
}

/** Waits (bounded) for a record to reach `status` through the store's change notices. */
async function until(name: string, status: ProcessStatus): Promise<void> {
  let wake: () => void = () => undefined;
  const off = await store!.subscribe((change) => {
    if (change.name === name) wake();
  });
  try {
    const deadline = Date.now() + 15_000;
    while ((await store!.getProcess("suite", name))?.status !== status) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${name} never became ${status}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.min(left, 1000));
      });
    }
  } finally {
    await off();
  }
}

describe("reconciliation after a control-plane crash", () => {
  it("moves allocating, swapping and resuming records to statuses the user can go on from", async () => {
    const first = await startPlane();
    await first.deploy("suite", "test/fixtures/apps/runtime-suite");
    for (const name of ["swapped-out", "half-resumed"]) {
      await first.createProcess("suite", name, { vcpus: 1, memory: 256 });
      await first.invoke("suite", "add", "5", { process: name });
      await first.swap("suite", name);
    }
    await planes.stopLatest();
    await force("swapped-out", "swapping"); // crashed after the process stored its state
    await force("half-resumed", "resuming"); // crashed before the resumed process registered
    await orphanRecord("allocating", "allocating");
    await orphanRecord("swap-lost", "swapping"); // no state stored, no process
    await orphanRecord("resume-lost", "resuming");

    const second = await startPlane({ reconnectGraceMs: 200 });
    await until("swapped-out", "swapped");
    await until("half-resumed", "swapped");
    await until("allocating", "failed");
    await until("swap-lost", "failed");
    await until("resume-lost", "failed");

    for (const name of ["swapped-out", "half-resumed"]) {
      expect((await second.resume("suite", name)).status).toBe("active");
      expect(text(await second.invoke("suite", "add", "1", { process: name }))).toBe("6");
      await second.deleteProcess("suite", name);
    }
    for (const name of ["allocating", "swap-lost", "resume-lost"]) {
      await second.deleteProcess("suite", name);
    }
    expect((await second.listProcesses("suite")).failed).toEqual([]);
  });

  it("never restores a leftover snapshot into a new process of the same name", async () => {
    const client = await startPlane();
    await client.createProcess("suite", "reborn", { vcpus: 1, memory: 256 });
    await client.invoke("suite", "add", "5", { process: "reborn" });
    await client.swap("suite", "reborn");
    const aside = path.join(planes.dir(), "aside");
    await copyFile(snapshotFile("reborn"), aside);
    await client.deleteProcess("suite", "reborn");
    // An orphaned process of the old incarnation writes its state after the delete.
    await mkdir(path.dirname(snapshotFile("reborn")), { recursive: true });
    await copyFile(aside, snapshotFile("reborn"));

    await client.createProcess("suite", "reborn", { vcpus: 1, memory: 256 });
    expect(existsSync(snapshotFile("reborn"))).toBe(false);
    expect(text(await client.invoke("suite", "add", "1", { process: "reborn" }))).toBe("1");
    await client.deleteProcess("suite", "reborn");
  });

  it("stops a failed process that is still running when it is deleted", async () => {
    const client = planes.latest() ?? (await startPlane());
    const proc = await client.createProcess("suite", "zombie", { vcpus: 1, memory: 256 });
    await force("zombie", "failed"); // e.g. marked failed while it was only unreachable
    const { host, port } = proc.info.connection!;
    await client.deleteProcess("suite", "zombie");
    expect(await portClosed(host, port)).toBe(true);
  });
});
