// A resume that fails late (the restored process never registers in time) keeps the record
// swapped and the stored state in place, so a later resume brings everything back.
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { ControlPlaneOptions } from "../../src/control-plane/config.js";
import type { PraaS } from "../../src/sdk/index.js";
import { rejection, text } from "../helpers/process-harness.js";
import { useRedisPlanes } from "../helpers/redis-planes.js";

const planes = useRedisPlanes("resume-failure");
const startPlane = (options?: ControlPlaneOptions): Promise<PraaS> => planes.start(options);

const snapshotFile = (): string => path.join(planes.dir(), "blobs", "swaps", "suite", "r1");

describe("resume that fails late", () => {
  it("leaves the record swapped and the stored state in place; a later resume works", async () => {
    const first = await startPlane();
    await first.deploy("suite", "test/fixtures/apps/runtime-suite");
    await first.createProcess("suite", "r1", { vcpus: 1, memory: 256 });
    expect(text(await first.invoke("suite", "add", "5", { process: "r1" }))).toBe("5");
    expect((await first.swap("suite", "r1")).status).toBe("swapped");
    await planes.stopLatest();

    // No process can register within 1 ms: the restored process starts, then the resume fails.
    const impatient = await startPlane({ startTimeoutMs: 1 });
    const failed = await rejection(impatient.resume("suite", "r1"));
    expect(failed.code).not.toBe("STORAGE_ERROR");
    expect((await impatient.getProcess("suite", "r1")).status).toBe("swapped");
    expect(existsSync(snapshotFile())).toBe(true);
    await planes.stopLatest();

    const patient = await startPlane();
    const resumed = await patient.resume("suite", "r1");
    expect(resumed.status).toBe("active");
    expect(text(await patient.invoke("suite", "add", "1", { process: "r1" }))).toBe("6");
    // Kept after the resume, as the base a crash comes back to; delete removes it.
    expect(existsSync(snapshotFile())).toBe(true);
    await patient.deleteProcess("suite", "r1");
    expect(existsSync(snapshotFile())).toBe(false);
  });
});
