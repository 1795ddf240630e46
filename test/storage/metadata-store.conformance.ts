/**
 * The MetadataStore contract (src/storage/metadata-store.ts) as one suite, run against every
 * implementation. `newBacking` gives a fresh, empty backing service for each test; every
 * `open()` on it is another store instance over the same data, like a second replica.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  AppRecord,
  MetadataStore,
  ProcessChange,
  ProcessRecord,
} from "../../src/storage/metadata-store.js";

export interface MetadataBacking {
  open(): Promise<MetadataStore>;
}

const WAIT_MS = 5_000;

function app(name: string, version = 1): AppRecord {
  return {
    name,
    version,
    functions: ["add", "get"],
    bundleKey: `bundles/${name}/${version}`,
    defaults: { vcpus: 1 },
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000 + version,
  };
}

function proc(appName: string, name: string): ProcessRecord {
  return {
    app: appName,
    name,
    status: "allocating",
    resources: { vcpus: 1, memory: 128 },
    secret: `secret-${name}`,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    revision: 1,
  };
}

/** Collects change notices and waits, with a bound, for ones matching a condition. */
class ChangeLog {
  readonly changes: ProcessChange[] = [];
  private waiters: (() => void)[] = [];

  readonly listener = (change: ProcessChange): void => {
    this.changes.push(change);
    for (const wake of this.waiters.splice(0)) wake();
  };

  async waitFor(count: number): Promise<ProcessChange[]> {
    const deadline = Date.now() + WAIT_MS;
    while (this.changes.length < count) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`saw ${this.changes.length} of ${count} changes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
    return this.changes;
  }
}

export function metadataStoreConformance(name: string, newBacking: () => MetadataBacking): void {
  describe(`MetadataStore conformance: ${name}`, () => {
    let backing: MetadataBacking;
    let opened: MetadataStore[];
    let store: MetadataStore;

    const openInstance = async () => {
      const instance = await backing.open();
      opened.push(instance);
      return instance;
    };

    beforeEach(async () => {
      backing = newBacking();
      opened = [];
      store = await openInstance();
    });

    afterEach(async () => {
      await Promise.all(opened.map((instance) => instance.close()));
    });

    it("puts, gets, lists (sorted) and deletes apps", async () => {
      expect(await store.getApp("counter")).toBeUndefined();
      await store.putApp(app("zeta"));
      await store.putApp(app("counter"));
      await store.putApp(app("counter", 2)); // replaces
      expect(await store.getApp("counter")).toEqual(app("counter", 2));
      expect(await store.listApps()).toEqual([app("counter", 2), app("zeta")]);
      await expect(store.deleteApp("counter")).resolves.toBe(true);
      await expect(store.deleteApp("counter")).resolves.toBe(false);
      expect(await store.listApps()).toEqual([app("zeta")]);
    });

    it("puts an app only while its version is the expected one (compare-and-set)", async () => {
      await expect(store.putAppIf(app("counter", 1), undefined)).resolves.toBe(true);
      await expect(store.putAppIf(app("counter", 1), undefined)).resolves.toBe(false);
      await expect(store.putAppIf(app("counter", 2), 1)).resolves.toBe(true);
      await expect(store.putAppIf(app("counter", 3), 1)).resolves.toBe(false); // stale
      await expect(store.putAppIf(app("other", 1), 5)).resolves.toBe(false); // no record
      expect(await store.getApp("counter")).toEqual(app("counter", 2));
      expect(await store.getApp("other")).toBeUndefined();
      await expect(store.putAppIf(app("bad name"), undefined)).rejects.toMatchObject({
        code: "INVALID_NAME",
      });
    });

    it("lets exactly one of concurrent app compare-and-sets at the same version win", async () => {
      const peer = await openInstance();
      await store.putApp(app("counter", 1));
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 === 0 ? store : peer).putAppIf({ ...app("counter", 2), functions: [`f${i}`] }, 1),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect((await store.getApp("counter"))?.functions).toEqual([`f${winner}`]);
    });

    it("creates a process once only", async () => {
      await expect(store.createProcess(proc("counter", "p1"))).resolves.toBe(true);
      const again = { ...proc("counter", "p1"), status: "failed" as const };
      await expect(store.createProcess(again)).resolves.toBe(false);
      expect(await store.getProcess("counter", "p1")).toEqual(proc("counter", "p1"));
      // The same process name under another app is a different process.
      await expect(store.createProcess(proc("other", "p1"))).resolves.toBe(true);
    });

    it("lets exactly one of 10 concurrent creates of the same name win", async () => {
      const peer = await openInstance();
      const attempts = Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? store : peer).createProcess({ ...proc("counter", "race"), secret: `s${i}` }),
      );
      const results = await Promise.all(attempts);
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect((await store.getProcess("counter", "race"))?.secret).toBe(`s${winner}`);
    });

    it("lists processes of one app sorted by name", async () => {
      for (const name of ["p3", "p1", "p2"]) await store.createProcess(proc("counter", name));
      await store.createProcess(proc("other", "p0"));
      const listed = await store.listProcesses("counter");
      expect(listed.map((record) => record.name)).toEqual(["p1", "p2", "p3"]);
      expect(await store.listProcesses("nobody")).toEqual([]);
    });

    it("lists for readers what it lists, records that neither readers nor updates change", async () => {
      for (const name of ["p2", "p1"]) await store.createProcess(proc("counter", name));
      const listed = await store.listProcessesReadOnly("counter");
      expect(listed).toEqual(await store.listProcesses("counter"));
      expect(await store.listProcessesReadOnly("nobody")).toEqual([]);
      try {
        (listed[0] as ProcessRecord).resources.vcpus = 42;
      } catch {
        // A store handing out its own records froze them: the write is refused.
      }
      expect((await store.getProcess("counter", "p1"))?.resources.vcpus).toBe(1);
      const before = structuredClone(listed[0]);
      await store.updateProcess("counter", "p1", 1, {
        stateSize: 5,
        resources: { vcpus: 2, memory: 1 },
      });
      expect(listed[0]).toEqual(before);
      expect((await store.listProcessesReadOnly("counter"))[0]?.stateSize).toBe(5);
    });

    it("updates by compare-and-set on the revision", async () => {
      await store.createProcess(proc("counter", "p1"));
      const connection = { host: "127.0.0.1", port: 4000, token: "t" };
      const updated = await store.updateProcess("counter", "p1", 1, {
        status: "active",
        connection,
      });
      expect(updated).toEqual({
        ...proc("counter", "p1"),
        status: "active",
        connection,
        revision: 2,
      });
      expect(await store.getProcess("counter", "p1")).toEqual(updated);
      // A writer still holding revision 1 loses and changes nothing.
      await expect(store.updateProcess("counter", "p1", 1, { status: "failed" })).resolves.toBe(
        undefined,
      );
      const next = await store.updateProcess("counter", "p1", 2, { status: "swapped" });
      expect(next).toMatchObject({ status: "swapped", revision: 3, connection });
      await expect(store.updateProcess("counter", "nope", 1, {})).resolves.toBeUndefined();
    });

    it("clears fields patched to undefined and keeps identity fields", async () => {
      await store.createProcess({ ...proc("counter", "p1"), backendId: "pid-1" });
      const patch = { backendId: undefined, name: "hijack", createdAt: 5 } as object;
      const updated = await store.updateProcess("counter", "p1", 1, patch);
      expect(updated).toEqual({ ...proc("counter", "p1"), revision: 2 });
      expect(Object.keys(updated ?? {})).not.toContain("backendId");
      expect(await store.getProcess("counter", "p1")).toEqual(updated);
    });

    it("lets exactly one of concurrent updates at the same revision win", async () => {
      const peer = await openInstance();
      await store.createProcess(proc("counter", "p1"));
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 === 0 ? store : peer).updateProcess("counter", "p1", 1, { stateSize: i }),
        ),
      );
      const winners = results.filter((record) => record !== undefined);
      expect(winners).toHaveLength(1);
      expect(await store.getProcess("counter", "p1")).toEqual(winners[0]);
    });

    it("hands out copies, never aliases of stored records", async () => {
      const input = app("counter");
      await store.putApp(input);
      input.functions.push("mutated-input");
      const read = await store.getApp("counter");
      read?.functions.push("mutated-output");
      (await store.listApps())[0]?.functions.push("mutated-list");
      expect(await store.getApp("counter")).toEqual(app("counter"));

      const record = proc("counter", "p1");
      await store.createProcess(record);
      record.resources.memory = 1;
      const updated = await store.updateProcess("counter", "p1", 1, { status: "active" });
      if (updated) updated.resources.vcpus = 99;
      (await store.listProcesses("counter"))[0]!.resources.vcpus = 42;
      const stored = await store.getProcess("counter", "p1");
      expect(stored?.resources).toEqual({ vcpus: 1, memory: 128 });
    });

    it("deletes processes", async () => {
      await store.createProcess(proc("counter", "p1"));
      await expect(store.deleteProcess("counter", "p1")).resolves.toBe(true);
      expect(await store.getProcess("counter", "p1")).toBeUndefined();
      await expect(store.deleteProcess("counter", "p1")).resolves.toBe(false);
      await expect(store.updateProcess("counter", "p1", 1, {})).resolves.toBeUndefined();
      await expect(store.createProcess(proc("counter", "p1"))).resolves.toBe(true);
    });

    it("notifies subscribers of their own and other instances' changes, in order", async () => {
      const peer = await openInstance();
      const mine = new ChangeLog();
      const theirs = new ChangeLog();
      await store.subscribe(mine.listener);
      await peer.subscribe(theirs.listener);

      await store.createProcess(proc("counter", "p1"));
      const active = await peer.updateProcess("counter", "p1", 1, { status: "active" });
      await store.deleteProcess("counter", "p1");

      const expected: ProcessChange[] = [
        { app: "counter", name: "p1", record: proc("counter", "p1") },
        { app: "counter", name: "p1", record: active },
        { app: "counter", name: "p1", record: undefined },
      ];
      expect(await mine.waitFor(3)).toEqual(expected);
      expect(await theirs.waitFor(3)).toEqual(expected);
    });

    it("stops notifying after unsubscribe, and skips failed writes", async () => {
      const kept = new ChangeLog();
      const dropped = new ChangeLog();
      await store.subscribe(kept.listener);
      const unsubscribe = await store.subscribe(dropped.listener);
      await store.createProcess(proc("counter", "p1"));
      await dropped.waitFor(1);
      await unsubscribe();

      await store.createProcess(proc("counter", "p1")); // already exists: no notice
      await store.updateProcess("counter", "p1", 7, {}); // stale: no notice
      await store.createProcess(proc("counter", "p2")); // the marker that ends the wait
      const seen = await kept.waitFor(2);
      expect(seen.map((change) => change.name)).toEqual(["p1", "p2"]);
      expect(dropped.changes).toHaveLength(1);
    });

    it("answers a replica while its heartbeat lasts, and forgets it once it expires or is deleted", async () => {
      const peer = await openInstance();
      const one = { id: "r1", address: "127.0.0.1:7001", seenAt: 1 };
      const two = { id: "r2", address: "127.0.0.1:7002", seenAt: 2 };
      expect(await store.getReplica("r1")).toBeUndefined();
      await store.putReplica(one, 60_000);
      await peer.putReplica(two, 20);
      expect(await peer.getReplica("r1")).toEqual(one);
      await store.deleteReplica("r1");
      expect(await peer.getReplica("r1")).toBeUndefined();
      // The short heartbeat runs out by itself (bounded wait on the outcome, not a timing claim).
      const deadline = Date.now() + 10_000;
      while ((await store.getReplica("r2")) !== undefined && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await store.getReplica("r2")).toBeUndefined();
      await expect(store.putReplica({ ...one, id: "bad id" }, 1000)).rejects.toMatchObject({
        code: "INVALID_NAME",
      });
    });

    it("gives every instance the same cluster secret", async () => {
      const peer = await openInstance();
      const [mine, theirs] = await Promise.all([store.clusterSecret(), peer.clusterSecret()]);
      expect(mine.length).toBeGreaterThanOrEqual(16);
      expect(theirs).toBe(mine);
      expect(await store.clusterSecret()).toBe(mine);
    });

    it("keeps the replica holding a process's link with the record", async () => {
      await store.createProcess(proc("counter", "p1"));
      const moved = await store.updateProcess("counter", "p1", 1, { replica: "r2" });
      expect(moved?.replica).toBe("r2");
      expect((await store.getProcess("counter", "p1"))?.replica).toBe("r2");
    });

    it("answers concurrent health pings while it is up", async () => {
      await expect(Promise.all([store.ping(500), store.ping(500)])).resolves.toBeDefined();
    });

    it("rejects invalid names with INVALID_NAME", async () => {
      const invalid = { code: "INVALID_NAME" };
      await expect(store.putApp(app("bad name"))).rejects.toMatchObject(invalid);
      await expect(store.getApp("../x")).rejects.toMatchObject(invalid);
      await expect(store.createProcess(proc("counter", "a:b"))).rejects.toMatchObject(invalid);
      await expect(store.getProcess("counter", "")).rejects.toMatchObject(invalid);
      await expect(store.listProcesses("x y")).rejects.toMatchObject(invalid);
    });
  });
}
