// The mailbox's journal: replaying what it logged rebuilds exactly the undelivered messages,
// whatever mix of puts, waiting gets and messages put back came before.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ANY, PraaSError } from "../../src/protocol/index.js";
import { Mailbox, type Message } from "../../src/runtime/mailbox.js";
import type { WalOp } from "../../src/runtime/wal.js";

type Step =
  | { kind: "put"; key: string; source: string }
  | { kind: "get"; key: string; source: string }
  | { kind: "putBack" };

const key = fc.constantFrom("a", "b");
const source = fc.constantFrom("p1", "p2");
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("put" as const), key, source }),
  fc.record({ kind: fc.constant("get" as const), key, source: fc.constantFrom("p1", "p2", ANY) }),
  fc.record({ kind: fc.constant("putBack" as const) }),
);

const shape = (messages: Message[]): string[] =>
  messages.map((m) => `${m.key}/${m.source}/${m.value.toString()}`);

/** Runs the steps on a journaled mailbox; resolves the live box and its journal. */
async function run(steps: Step[]): Promise<{ live: Mailbox; journal: WalOp[] }> {
  const journal: WalOp[] = [];
  const live = new Mailbox(undefined, (ops) => {
    journal.push(...ops);
    return Promise.resolve();
  });
  const received: Message[] = [];
  let serial = 0;
  for (const s of steps) {
    if (s.kind === "put") {
      await live.put({ key: s.key, source: s.source, value: Buffer.from(String(serial++)) });
    } else if (s.kind === "get") {
      // A get with nothing to take waits; a later put hands it the message.
      live.get(s.source, s.key, 60_000).then(
        (message) => received.push(message),
        () => undefined,
      );
    } else {
      const message = received.shift();
      if (message) live.putBack(message);
    }
    await Promise.resolve(); // let handed-over messages reach `received`
  }
  live.rejectWaiters(new PraaSError("UNAVAILABLE", "test over"));
  return { live, journal };
}

describe("mailbox journal", () => {
  it("property: replaying the journal rebuilds exactly the undelivered messages, in order", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const { live, journal } = await run(steps);
        const rebuilt = new Mailbox();
        for (const op of journal) rebuilt.replay(op);
        expect(shape(rebuilt.messages())).toEqual(shape(live.messages()));
      }),
      { numRuns: 300 },
    );
  });

  it("acknowledges a put only once its journal entry resolved", async () => {
    let release!: () => void;
    const written = new Promise<void>((resolve) => (release = resolve));
    const box = new Mailbox(undefined, () => written);
    let acknowledged = false;
    const put = box.put({ key: "k", source: "p", value: Buffer.from("v") }).then(() => {
      acknowledged = true;
    });
    await Promise.resolve();
    expect(acknowledged).toBe(false);
    expect(box.messages()).toHaveLength(1); // applied at once, acknowledged once logged
    release();
    await put;
    expect(acknowledged).toBe(true);
  });
});
