// put/get inside one process and between two, remote invocation, and the peer directory.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessConnection } from "../../src/sdk/index.js";
import {
  FakeControlPlane,
  bundleFixture,
  makeTempDir,
  startProcess,
  text,
  type RunningProcess,
} from "../helpers/process-harness.js";
import { whileStopped, within } from "../helpers/stopped-process.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let control: FakeControlPlane;
let p0: RunningProcess;
let p1: RunningProcess;
let c0: ProcessConnection;
let c1: ProcessConnection;
let p2: RunningProcess | undefined;
let moved: RunningProcess | undefined;
let bundle: string;

const peer = (p: RunningProcess): object => ({
  name: p.name,
  status: "active",
  address: { host: p.host, port: p.port, token: p.token },
});

beforeAll(async () => {
  temp = await makeTempDir("messaging");
  control = new FakeControlPlane();
  await control.listen();
  bundle = await bundleFixture("runtime-suite", temp.dir);
  const common = { bundle, blobDir: temp.dir, workers: 1, control };
  [p0, p1] = await Promise.all([
    startProcess({ ...common, name: "p0" }),
    startProcess({ ...common, name: "p1" }),
  ]);
  const directory = [peer(p0), peer(p1), { name: "p2", status: "swapped" }];
  await Promise.all([
    control.command("p0", "peers", directory),
    control.command("p1", "peers", directory),
  ]);
  [c0, c1] = await Promise.all([p0.connect(), p1.connect()]);
});

afterAll(async () => {
  await Promise.all([c0?.close(), c1?.close()]);
  await Promise.all([p0?.stop(), p1?.stop(), p2?.stop(), moved?.stop()]);
  await control?.close();
  await temp?.remove();
});

const json = (value: object): string => JSON.stringify(value);

describe("messages within one process", () => {
  it.each(["SELF", "ANY", "p0"])(
    "delivers a message put to SELF and read from %s",
    async (from) => {
      expect(text(await c0.invoke("send", json({ key: `k-${from}`, value: "hello" })))).toBe(
        "sent",
      );
      expect(text(await c0.invoke("receive", json({ from, key: `k-${from}` })))).toBe("hello");
    },
  );

  it("makes a get wait for a later put, even with a single worker", async () => {
    const waiting = c0.invoke("receive", json({ key: "later", timeoutMs: 10_000 }));
    await c0.invoke("send", json({ key: "later", value: "arrived" }));
    expect(text(await waiting)).toBe("arrived");
  });

  it("consumes a message: a second get times out", async () => {
    await c0.invoke("send", json({ key: "once", value: "v" }));
    expect(text(await c0.invoke("receive", json({ key: "once" })))).toBe("v");
    expect(text(await c0.invoke("receive", json({ key: "once", timeoutMs: 100 })))).toBe(
      "error:TIMEOUT",
    );
  });

  it("queues several messages with the same key in order", async () => {
    for (const value of ["a", "b", "c"]) await c0.invoke("send", json({ key: "q", value }));
    const got = [];
    for (let i = 0; i < 3; i++) got.push(text(await c0.invoke("receive", json({ key: "q" }))));
    expect(got).toEqual(["a", "b", "c"]);
  });

  it("keeps state and mailbox apart", async () => {
    await c0.invoke("stateOps", json({ op: "put", key: "shared-name", value: "state" }));
    expect(text(await c0.invoke("receive", json({ key: "shared-name", timeoutMs: 50 })))).toBe(
      "error:TIMEOUT",
    );
  });
});

describe("messages between processes", () => {
  it("delivers to another process, read from ANY and by sender name", async () => {
    await c0.invoke("send", json({ to: "p1", key: "m1", value: "first" }));
    await c0.invoke("send", json({ to: "p1", key: "m2", value: "second" }));
    expect(text(await c1.invoke("receive", json({ from: "ANY", key: "m1" })))).toBe("first");
    expect(text(await c1.invoke("receive", json({ from: "p0", key: "m2" })))).toBe("second");
  });

  it("does not match a message from another sender", async () => {
    await c0.invoke("send", json({ to: "p1", key: "m3", value: "x" }));
    expect(text(await c1.invoke("receive", json({ from: "p2", key: "m3", timeoutMs: 100 })))).toBe(
      "error:TIMEOUT",
    );
    expect(text(await c1.invoke("receive", json({ from: "p0", key: "m3" })))).toBe("x");
  });

  it("wakes a get that was waiting before the remote put", async () => {
    const waiting = c0.invoke("receive", json({ from: "p1", key: "back", timeoutMs: 10_000 }));
    await c1.invoke("send", json({ to: "p0", key: "back", value: "reverse" }));
    expect(text(await waiting)).toBe("reverse");
  });

  it("exchanges messages both ways at once", async () => {
    const [r0, r1] = await Promise.all([
      c0.invoke("putGet", json({ to: "p1", key: "pp" })),
      c1.invoke("putGet", json({ to: "p0", key: "pp" })),
    ]);
    expect(text(r0)).toBe("MESSAGE p0");
    expect(text(r1)).toBe("MESSAGE p1");
  });

  it("sends from the worker straight to the peer: it works while the sender's process is stopped", async () => {
    // The first message has the process open the worker's own connection to p1.
    await c0.invoke("send", json({ to: "p1", key: "opening", value: "via the process" }));
    expect(text(await c1.invoke("receive", json({ from: "p0", key: "opening" })))).toBe(
      "via the process",
    );
    const base = Number(text(await c1.invoke("add", "0")));
    await whileStopped(p0.child.pid as number, async () => {
      const sent = c0.invoke("send", json({ to: "p1", key: "stopped", value: "direct" }));
      expect(text(await within(sent, 10_000))).toBe("sent");
      const called = c0.invoke("remoteAdd", json({ process: "p1", value: "2" }));
      expect(text(await within(called, 10_000))).toBe(String((base + 2) * 2));
    });
    expect(text(await c1.invoke("receive", json({ from: "p0", key: "stopped" })))).toBe("direct");
  });

  it("fails a put to an unknown process with PROCESS_NOT_FOUND", async () => {
    const error = await c0.invoke("send", json({ to: "ghost", key: "k" })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PROCESS_NOT_FOUND" });
  });

  it("asks the control plane to resume a swapped peer, then reaches the resumed peer", async () => {
    // The resume really starts p2, and the new directory points at it.
    control.onResume = async (name) => {
      p2 = await startProcess({ name, bundle, blobDir: temp.dir, workers: 1, control });
      await control.command("p0", "peers", [peer(p0), peer(p1), peer(p2)]);
    };
    const reply = text(await c0.invoke("remoteCall", json({ process: "p2", fn: "whoami" })));
    expect(JSON.parse(reply)).toMatchObject({ processId: "p2", functionName: "whoami" });
    expect(control.resumeRequests.filter((name) => name === "p2")).toEqual(["p2"]);
  });
});

describe("remote invocation", () => {
  it("invokes a function in another process and uses its result", async () => {
    const base = Number(text(await c1.invoke("add", "0")));
    expect(text(await c0.invoke("remoteAdd", json({ process: "p1", value: "21" })))).toBe(
      String((base + 21) * 2),
    );
    expect(Number(text(await c1.invoke("add", "0")))).toBe(base + 21);
  });

  it("reports an unknown remote function as FUNCTION_NOT_FOUND", async () => {
    expect(text(await c0.invoke("remoteCall", json({ process: "p1", fn: "missing" })))).toBe(
      "error:FUNCTION_NOT_FOUND",
    );
  });

  it("lists the application's processes", async () => {
    const who = JSON.parse(text(await c1.invoke("whoami"))) as { processes: unknown };
    expect(who.processes).toEqual({ active: ["p0", "p1"], swapped: ["p2"] });
  });
});

describe("peer directory changes", () => {
  it("sets changed entries and drops removed names, keeping the rest", async () => {
    const changes = { changed: [{ name: "p3", status: "swapped" }], removed: ["p2"] };
    await control.command("p1", "peers", changes);
    const who = JSON.parse(text(await c1.invoke("whoami"))) as { processes: unknown };
    expect(who.processes).toEqual({ active: ["p0", "p1"], swapped: ["p3"] });
    // The entry that did not change still leads to its process.
    await expect(
      c1.invoke("remoteAdd", json({ process: "p0", value: "1" })),
    ).resolves.toBeDefined();
  });
  // Last: the second instance takes over the name at the fake control plane.
  it("sends to where a peer moved, though the worker held a connection to where it was", async () => {
    // The worker's own connection to p1 is open after the messages above.
    await c0.invoke("send", json({ to: "p1", key: "before-move", value: "old place" }));
    expect(text(await c1.invoke("receive", json({ key: "before-move" })))).toBe("old place");
    // A second instance of p1 elsewhere; the directory of p0 now points there.
    moved = await startProcess({ name: "p1", bundle, blobDir: temp.dir, workers: 1, control });
    await control.command("p0", "peers", { changed: [peer(moved)], removed: [] });
    const there = await moved.connect();
    try {
      await c0.invoke("send", json({ to: "p1", key: "after-move", value: "new place" }));
      expect(text(await there.invoke("receive", json({ key: "after-move" })))).toBe("new place");
    } finally {
      await there.close();
      await control.command("p0", "peers", { changed: [peer(p1)], removed: [] });
    }
  });
});
