// console.* inside a worker becomes Log frames tagged with the invocation that wrote them.
import { afterEach, describe, expect, it } from "vitest";
import { FrameType, decodeFields } from "../../src/protocol/index.js";
import { captureConsole, runAs, trackInvocations } from "../../src/runtime/worker/log-capture.js";
import type { FrameLink } from "../../src/transport/index.js";

const saved = { ...console };

afterEach(() => {
  Object.assign(console, saved);
});

interface Sent {
  fields: string[];
  line: string;
}

/** Only `send` is used by the capture: a recorder of the frames it would write. */
function recordingLink(sent: Sent[]): FrameLink {
  const send = (type: number, _id: number, meta: Uint8Array, payload: Uint8Array): void => {
    expect(type).toBe(FrameType.Log);
    sent.push({ fields: decodeFields(meta), line: Buffer.from(payload).toString() });
  };
  return { send } as unknown as FrameLink;
}

/** The invocation id each line was tagged with ("" for none), and its text. */
function tags(sent: Sent[]): string[][] {
  return sent.map((s) => [s.fields[3] ?? "", s.line]);
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// Tracking is process-wide and never turned off: these run before the test that turns it on.
describe("log capture, invocations not tracked (code that never names console)", () => {
  it("tags a line with the only invocation running, even after an await", async () => {
    const sent: Sent[] = [];
    captureConsole(recordingLink(sent));
    await runAs({ functionName: "f", invocationId: "solo" }, async () => {
      await tick();
      console.log("late");
    });
    console.log("after");
    expect(tags(sent)).toEqual([
      ["solo", "late"],
      ["", "after"],
    ]);
  });

  it("leaves a line untagged rather than guess between invocations running together", async () => {
    const sent: Sent[] = [];
    captureConsole(recordingLink(sent));
    const run = (id: string) =>
      runAs({ functionName: "f", invocationId: id }, async () => {
        await tick();
        console.log(id);
        await tick();
      });
    await Promise.all([run("a"), run("b")]);
    expect(tags(sent)).toEqual([
      ["", "a"],
      ["", "b"],
    ]);
  });
});

describe("log capture, invocations tracked", () => {
  it("tags each console line with its invocation, even across awaits of concurrent ones", async () => {
    const sent: Sent[] = [];
    captureConsole(recordingLink(sent));
    trackInvocations();
    const run = (id: string) =>
      runAs({ functionName: "f", invocationId: id }, async () => {
        console.log("start", id);
        await tick();
        console.error({ id });
      });
    await Promise.all([run("i1"), run("i2")]);
    console.warn("outside");
    console.trace("where");
    const tagged = sent.map((s) => [s.fields[0], s.fields[1], s.fields[3], s.line.split("\n")[0]]);
    expect(tagged).toEqual([
      ["info", "stdout", "i1", "start i1"],
      ["info", "stdout", "i2", "start i2"],
      ["error", "stderr", "i1", "{ id: 'i1' }"],
      ["error", "stderr", "i2", "{ id: 'i2' }"],
      ["warn", "stderr", "", "outside"],
      ["debug", "stdout", "", "Trace: where"],
    ]);
  });
});
