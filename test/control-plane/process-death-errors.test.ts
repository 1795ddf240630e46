// A process killed while the control plane waits on it (a swap command, a sticky invocation)
// used to answer 502 CONNECTION_CLOSED "connection closed": nothing said which process, or that
// it had died. The code stays (clients may match it); the message now names the process and
// what it means, and the record is failed, so the next use resumes it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaSError } from "../../src/protocol/index.js";
import { APP, startPlane, waitForRecord, type Harness } from "./plane-harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startPlane({ kind: "memory" });
});

afterAll(async () => {
  await h?.close();
});

async function errorOf(promise: Promise<unknown>): Promise<PraaSError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PraaSError) return error;
    throw error;
  }
  throw new Error("it did not fail");
}

describe("a process killed while the control plane waits on it", () => {
  it("fails a swap with an error that names the process", async () => {
    h.backend.script("dies-swapping", {
      beforeCommand: async (process, command) => {
        if (command !== "swap") return;
        await process.exit(null, "SIGKILL");
        await new Promise(() => undefined); // never answers
      },
    });
    await h.plane.createProcess(APP, "dies-swapping", {});
    const error = await errorOf(h.plane.swapProcess(APP, "dies-swapping"));
    expect(error.code).toBe("CONNECTION_CLOSED");
    expect(error.message).toContain(`${APP}/dies-swapping`);
    expect(error.message).toMatch(/swap/);
    await waitForRecord(h.store, "dies-swapping", "failed");
  });

  it("fails a sticky invocation with an error that names the process", async () => {
    h.backend.script("dies-invoked", {
      invoke: async (process, fn, payload) => {
        if (fn !== "die") return payload;
        await process.exit(null, "SIGKILL");
        return new Promise(() => undefined);
      },
    });
    await h.plane.createProcess(APP, "dies-invoked", {});
    const error = await errorOf(h.plane.invoke(APP, "die", Buffer.from("x"), "dies-invoked"));
    expect(error.code).toBe("CONNECTION_CLOSED");
    expect(error.message).toContain(`${APP}/dies-invoked`);
    expect(error.message).toMatch(/may have run/);
  });
});
