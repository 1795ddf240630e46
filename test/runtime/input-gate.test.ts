// The input gate in-process: serialized functions run one at a time in arrival order, a call
// waiting past its deadline leaves the queue with TIMEOUT, other functions pass straight in.
import { describe, expect, it } from "vitest";
import type { PraaSError } from "../../src/protocol/index.js";
import { InputGate } from "../../src/runtime/input-gate.js";

describe("InputGate", () => {
  it("lets serialized calls in one at a time, first come first served", async () => {
    const gate = new InputGate(["f"]);
    const order: string[] = [];
    const first = await gate.enter("f", 10_000);
    const waiting = ["a", "b", "c"].map((name) =>
      gate.enter("f", 10_000).then((release) => {
        order.push(name);
        return release;
      }),
    );
    const passing = await gate.enter("other", 10_000); // not serialized: no wait
    passing();
    expect(order).toEqual([]);
    first();
    first(); // a second release changes nothing
    for (const next of waiting) (await next)();
    expect(order).toEqual(["a", "b", "c"]);
    (await gate.enter("f", 10_000))(); // open again
  });

  it("times a waiting call out without losing the turn of the calls behind it", async () => {
    const gate = new InputGate(true);
    const first = await gate.enter("f", 10_000);
    const late = await gate.enter("g", 1).catch((error: PraaSError) => error);
    expect((late as PraaSError).code).toBe("TIMEOUT");
    const next = gate.enter("h", 10_000);
    first();
    (await next)();
  });

  it("serializes nothing when off", async () => {
    const gate = new InputGate(false);
    expect(gate.gates("f")).toBe(false);
    await Promise.all([gate.enter("f", 1), gate.enter("f", 1)]);
  });
});
