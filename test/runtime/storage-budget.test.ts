// A worker's storage budget: sure puts go on unawaited, puts too near the edge ask the process,
// puts past the edge even allowing for the slack are refused in the function.
import { describe, expect, it } from "vitest";
import { PraaSError } from "../../src/protocol/index.js";
import { StorageBudget } from "../../src/runtime/worker/storage-budget.js";

const TIGHT = 100;

describe("StorageBudget", () => {
  it("lets a put that fits even with the slack go on without asking", () => {
    const budget = new StorageBudget(1000, TIGHT, 200);
    expect(budget.reserve(800)).toBe("fits");
    expect(budget.reserve(1)).toBe("ask");
  });

  it("asks the process about a put within the slack of the edge, on either side", () => {
    expect(new StorageBudget(1000, TIGHT, 200).reserve(900)).toBe("ask");
    expect(new StorageBudget(1000, TIGHT, 200).reserve(1200)).toBe("ask");
  });

  it("refuses with STATE_FULL a put past the edge even allowing for the slack", () => {
    const budget = new StorageBudget(1000, TIGHT, 200);
    expect(() => budget.reserve(1201)).toThrow(/state is full: this put needs 1201 more bytes/);
    expect(budget.reserve(500)).toBe("fits");
  });

  it("never asks about a put that stores less than before", () => {
    expect(new StorageBudget(0, TIGHT, 200).reserve(-50)).toBe("fits");
    expect(new StorageBudget(0, TIGHT, 200).reserve(0)).toBe("fits");
  });

  it("fails the invocation with an unawaited put's refusal, not with an awaited one's", async () => {
    const full = new PraaSError("STATE_FULL", "full");
    const awaited = new StorageBudget(1000, TIGHT, 200);
    awaited.track(Promise.reject(full), true);
    await expect(awaited.settle(true)).resolves.toBeUndefined();
    expect(awaited.reserve(10)).toBe("fits");

    const unawaited = new StorageBudget(1000, TIGHT, 200);
    unawaited.track(Promise.reject(full));
    await expect(unawaited.settle(true)).rejects.toBe(full);
    expect(() => unawaited.reserve(10)).toThrow(full);
  });

  it("waits for every answer at the end when within the slack of the tight zone", async () => {
    let answered = false;
    const budget = new StorageBudget(TIGHT + 150, TIGHT, 200);
    budget.track(new Promise((resolve) => setImmediate(() => resolve((answered = true)))));
    await budget.settle();
    expect(answered).toBe(true);
  });
});
