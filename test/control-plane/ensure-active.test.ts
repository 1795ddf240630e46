// A call that finds its process in the middle of a transition waits for the transition to end,
// wherever it ends, then acts on the result: a resume that a restarted control plane
// reconciled back to swapped is resumed again, a swap that fell back to active is used as is.
// (Before, such a call waited for one status only and failed with TIMEOUT.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transition } from "../../src/control-plane/lifecycle.js";
import type { ProcessStatus } from "../../src/protocol/index.js";
import { APP, startPlane, useSuiteRedis, type Harness } from "./plane-harness.js";

const redisUrl = useSuiteRedis();

describe.each(["memory", "redis"] as const)("a call during a transition (%s store)", (kind) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startPlane({ kind, url: redisUrl() }, { options: { startTimeoutMs: 5_000 } });
  });

  afterAll(async () => {
    await h?.close();
  });

  /** Moves the record as a dead replica's operation, then a reconcile, would. */
  const move = (name: string, from: ProcessStatus, to: ProcessStatus) =>
    transition(h.store, APP, name, [from], to);

  it("resumes a process whose resume ended back in swapped", async () => {
    await h.plane.createProcess(APP, "r", {});
    await h.plane.invoke(APP, "set", Buffer.from("k=v"), "r");
    await h.plane.swapProcess(APP, "r");
    await move("r", "swapped", "resuming"); // a resume by a control plane that then died
    const call = h.plane.invoke(APP, "get", Buffer.from("k"), "r");
    await move("r", "resuming", "swapped"); // the restarted control plane's reconcile
    expect((await call).output.toString()).toBe("v");
    expect((await h.plane.getProcess(APP, "r")).status).toBe("active");
  });

  it("uses a process whose swap ended back in active", async () => {
    await h.plane.createProcess(APP, "s", {});
    await move("s", "active", "swapping");
    const call = h.plane.invoke(APP, "echo", Buffer.from("hi"), "s");
    await move("s", "swapping", "active"); // the swap failed; the process serves on
    expect((await call).output.toString()).toBe("hi");
  });
});
