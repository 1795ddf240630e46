// console.* inside a worker becomes Log frames tagged with the invocation that wrote them.
import { afterEach, describe, expect, it } from "vitest";
import { FrameType, decodeFields } from "../../src/protocol/index.js";
import { captureConsole, runAs } from "../../src/runtime/worker/log-capture.js";
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

describe("log capture", () => {
  it("tags each console line with its invocation, even across awaits of concurrent ones", async () => {
    const sent: Sent[] = [];
    captureConsole(recordingLink(sent));
    const run = (id: string) =>
      runAs({ functionName: "f", invocationId: id }, async () => {
        console.log("start", id);
        await new Promise((resolve) => setImmediate(resolve));
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
