import net from "node:net";
import { once } from "node:events";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlLink } from "../../src/runtime/control-link.js";
import type { FakeProcess } from "./fake-backend.js";
import { APP, startPlane, waitForRecord, type Harness, useSuiteRedis } from "./plane-harness.js";

const redisUrl = useSuiteRedis();

describe.each(["memory", "redis"] as const)("control links on the %s store", (kind) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startPlane(
      { kind, url: redisUrl() },
      { controlLink: { registerTimeoutMs: 200, reconnectWaitMs: 1_500 } },
    );
  });

  afterAll(async () => {
    await h?.close();
  });

  async function running(name: string): Promise<FakeProcess> {
    await h.plane.createProcess(APP, name, {});
    const process = h.backend.process(name);
    if (!process) throw new Error(`${name} is not running`);
    return process;
  }

  /** A control link claiming to be process `name`, with this secret and data-plane token. */
  function claimLink(name: string, secret: string, token: string): ControlLink {
    const config = { host: "127.0.0.1", port: h.plane.controlPort, secret, orphanTimeoutMs: 1_000 };
    const never = (): Promise<never> => Promise.reject(new Error("never asked"));
    return new ControlLink(
      { ...config, application: APP, process: name },
      {
        endpoint: () => ({ host: "127.0.0.1", port: 1, token }),
        commands: {
          swap: never,
          stop: never,
          peers: () => Promise.resolve(null),
          status: never,
          pair: never,
          state: never,
        },
        afterReply: () => undefined,
        orphaned: () => undefined,
        replaced: () => undefined,
      },
      pino({ level: "silent" }),
    );
  }

  function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(what)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /** Cuts the link and keeps the control plane unreachable until `block(false)`. */
  async function partition(process: FakeProcess): Promise<void> {
    process.proxy.block(true);
    process.proxy.drop();
    await h.log.waitFor("control link closed", { name: process.spec.name });
  }

  it("keeps a process active when its link comes back within the grace", async () => {
    const brief = await running("brief-drop");
    const lost = await running("lost-for-good");
    brief.proxy.drop();
    await partition(lost);
    // lost-for-good's grace started after brief-drop's: once it failed, brief-drop's has run out.
    await waitForRecord(h.store, "lost-for-good", "failed");
    await h.log.waitFor("process reconnected", { name: "brief-drop" });
    expect((await h.store.getProcess(APP, "brief-drop"))?.status).toBe("active");
    expect(h.log.find("process failed", { name: "brief-drop" })).toHaveLength(0);
    // The new link carries commands.
    expect((await h.plane.swapProcess(APP, "brief-drop")).status).toBe("swapped");
  });

  it("refuses and logs a registration with a wrong secret, and keeps the real link", async () => {
    await running("impostor-target");
    const impostor = claimLink("impostor-target", "not-the-secret", "t");
    try {
      await expect(impostor.connect()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    } finally {
      impostor.close();
    }
    const refused = h.log.find("control link refused", { app: APP, name: "impostor-target" });
    expect(refused).toHaveLength(1);
    expect(JSON.stringify(refused)).not.toContain("not-the-secret");
    expect((await h.plane.swapProcess(APP, "impostor-target")).status).toBe("swapped");
  });

  it("refuses an earlier instance (right secret, old token) and keeps the current link", async () => {
    await running("replaced-target");
    const record = await h.store.getProcess(APP, "replaced-target");
    const earlier = claimLink(
      "replaced-target",
      record?.secret ?? "",
      "token-of-an-earlier-instance",
    );
    try {
      await expect(earlier.connect()).rejects.toMatchObject({ code: "REPLACED" });
    } finally {
      earlier.close();
    }
    const after = await h.store.getProcess(APP, "replaced-target");
    expect(after?.connection?.token).toBe(record?.connection?.token);
    expect((await h.plane.swapProcess(APP, "replaced-target")).status).toBe("swapped");
  });

  it("tells an instance that re-dials after a newer one replaced it to exit, saving nothing", async () => {
    // A resume stops a failed process's earlier instance first; this one is out of the
    // backend's reach, so only the control link can tell it.
    h.backend.script("replaced-redial", { unstoppable: true });
    const earlier = await running("replaced-redial");
    await partition(earlier);
    await waitForRecord(h.store, "replaced-redial", "failed");
    const started = h.backend.nextStart();
    await h.plane.resumeProcess(APP, "replaced-redial");
    const newer = await started;
    earlier.proxy.block(false); // the earlier instance reaches the control plane again
    await bounded(earlier.replaced, 10_000, "the earlier instance was not told it was replaced");
    expect(earlier.exited).toBe(true);
    const record = await h.store.getProcess(APP, "replaced-redial");
    expect(record?.status).toBe("active");
    expect(record?.connection?.token).toBe(newer.spec.token);
  });

  it("stops a failed process's earlier instance, still alive and cut off, before resuming it", async () => {
    const earlier = await running("stopped-first");
    await partition(earlier);
    await waitForRecord(h.store, "stopped-first", "failed");
    const started = h.backend.nextStart();
    await h.plane.resumeProcess(APP, "stopped-first");
    const newer = await started;
    expect(earlier.exited).toBe(true);
    const record = await h.store.getProcess(APP, "stopped-first");
    expect(record?.connection?.token).toBe(newer.spec.token);
  });

  it("never takes an earlier swap's snapshot for a lost swap: the live process comes back with its state", async () => {
    let cutAtSwap = false;
    h.backend.script("lost-swap", {
      // The swap command arrives, then the link goes before the process answers (it swaps nothing).
      beforeCommand: (proc, command) => {
        if (command !== "swap" || !cutAtSwap) return Promise.resolve();
        proc.status = "active";
        proc.proxy.block(true);
        proc.proxy.drop();
        return Promise.reject(new Error("link cut"));
      },
    });
    const first = await running("lost-swap");
    first.state.set("k", Buffer.from("swapped"));
    await h.plane.swapProcess(APP, "lost-swap"); // stored; kept after the resume
    const resumed = h.backend.nextStart();
    await h.plane.resumeProcess(APP, "lost-swap");
    const live = await resumed;
    live.state.set("k", Buffer.from("newer"));
    cutAtSwap = true;
    await expect(h.plane.swapProcess(APP, "lost-swap")).rejects.toBeDefined();
    expect((await h.store.getProcess(APP, "lost-swap"))?.status).toBe("failed");
    live.proxy.block(false); // it was only cut off: it re-dials and is active again
    const back = await waitForRecord(h.store, "lost-swap", "active");
    expect(back?.connection?.token).toBe(live.spec.token);
    expect(live.exited).toBe(false);
    expect(live.state.get("k")?.toString()).toBe("newer");
  });

  it("holds a command while the process re-dials, then delivers it", async () => {
    const process = await running("redial");
    await partition(process);
    const swapping = h.plane.swapProcess(APP, "redial");
    process.proxy.block(false);
    expect((await swapping).status).toBe("swapped");
  });

  it("fails a command with UNAVAILABLE when the link stays down past the wait", async () => {
    const process = await running("unreachable");
    await partition(process);
    await expect(h.plane.swapProcess(APP, "unreachable")).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
  });

  it("drops a connection that never registers", async () => {
    const socket = net.connect(h.plane.controlPort, "127.0.0.1");
    try {
      await once(socket, "connect");
      await once(socket, "close"); // the server closes it after registerTimeoutMs
    } finally {
      socket.destroy();
    }
  });
});
