// The peer directory a process holds follows its application's processes: the whole directory
// once it registers, then only what changed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PeerEntry } from "../../src/protocol/index.js";
import { APP, startPlane, type Harness } from "./plane-harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startPlane({ kind: "memory" });
});

afterAll(async () => {
  await h?.close();
});

/** Waits (bounded) until the directory of `name` satisfies `ok`. */
async function directoryOf(name: string, ok: (peers: PeerEntry[]) => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const peers = h.backend.process(name)?.peers ?? [];
    if (ok(peers)) return;
    if (Date.now() > deadline) throw new Error(`${name}'s directory: ${JSON.stringify(peers)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const statusOf = (peers: PeerEntry[], name: string): string | undefined =>
  peers.find((peer) => peer.name === name)?.status;

describe("peer directory", () => {
  it("reaches a process whole once, then as changes: created, swapped, deleted", async () => {
    await h.plane.createProcess(APP, "d1", {});
    await h.plane.createProcess(APP, "d2", {});
    await directoryOf("d1", (peers) => statusOf(peers, "d2") === "active");
    await h.plane.swapProcess(APP, "d2");
    await directoryOf("d1", (peers) => statusOf(peers, "d2") === "swapped");
    await h.plane.deleteProcess(APP, "d2");
    await directoryOf("d1", (peers) => statusOf(peers, "d2") === undefined);
    const pushes = h.backend.process("d1")?.peerPushes;
    expect(pushes?.whole).toBe(1);
    expect(pushes?.changes).toBeGreaterThanOrEqual(3);
  });
});
