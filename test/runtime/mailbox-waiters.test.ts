// A worker that dies while waiting in ctx.get takes its waiter with it: the next message goes
// to a live invocation instead of vanishing into the dead one.
import { describe, expect, it } from "vitest";
import { rejection, text, useSuiteProcess } from "../helpers/process-harness.js";

const suite = useSuiteProcess({ name: "waiters", workers: 1 });
const json = (value: object): string => JSON.stringify(value);

describe("mailbox waiters of a dead worker", () => {
  it("are dropped, so a later message reaches a later get", async () => {
    const { conn } = suite;
    const workerPid = Number(text(await conn.invoke("pid")));
    const waiting = conn.invoke("receive", json({ key: "handoff", timeoutMs: 20_000 }));
    // The get is registered once the worker has asked; `waiting` cannot answer before it gets a message.
    await conn.invoke("echo", "barrier");
    process.kill(workerPid, "SIGKILL");
    expect((await rejection(waiting)).code).toBe("WORKER_CRASHED");

    expect(text(await conn.invoke("send", json({ key: "handoff", value: "not lost" })))).toBe(
      "sent",
    );
    expect(text(await conn.invoke("receive", json({ key: "handoff", timeoutMs: 5_000 })))).toBe(
      "not lost",
    );
  });
});
