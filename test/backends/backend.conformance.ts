/**
 * The ProcessBackend contract (src/backends/backend.ts), one suite run against every backend:
 * real cloud processes (the compiled runtime), a real control link (ControlHarness), the real
 * data plane. Each backend's test file provides a fixture: the backend, and the few things only
 * it can do (kill a process from outside, list what it left behind, find a log).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExitInfo, ProcessBackend, StartedProcess } from "../../src/backends/index.js";
import { PraaSError } from "../../src/protocol/index.js";
import { connect } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { ControlHarness } from "./control-harness.js";

export interface BackendFixture {
  backend: ProcessBackend;
  /** Where the control link listens: an address the backend's processes can dial. */
  controlHost: string;
  /** Kills the process with SIGKILL from outside the backend (a crash). */
  kill(started: StartedProcess): Promise<void>;
  /** What the backend left running or stored for processes of `app` (processes, containers). */
  leftovers(app: string): Promise<string[]>;
  logExists(app: string, name: string): Promise<boolean>;
  /** The memory limit the platform enforces on the process, in bytes, where it is visible. */
  memoryLimitBytes?(started: StartedProcess): Promise<number>;
  close(): Promise<void>;
}

export interface FixtureDirs {
  /** A fresh directory for the backend's data (bundles, logs, the disk blob store). */
  dataDir: string;
}

const EXIT_WAIT_MS = 20_000;

/** Every exit the backend reports, with waits bounded by EXIT_WAIT_MS. */
class ExitLog {
  readonly exits: ExitInfo[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(backend: ProcessBackend) {
    backend.onExit((exit) => {
      this.exits.push(exit);
      for (const wake of this.#waiters) wake();
    });
  }

  of(backendId: string): ExitInfo[] {
    return this.exits.filter((exit) => exit.backendId === backendId);
  }

  named(name: string): ExitInfo[] {
    return this.exits.filter((exit) => exit.name === name);
  }

  async waitFor(backendId: string): Promise<ExitInfo> {
    const found = (): ExitInfo | undefined => this.of(backendId)[0];
    const exit = found();
    if (exit) return exit;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no exit of ${backendId} within ${EXIT_WAIT_MS} ms`));
      }, EXIT_WAIT_MS);
      const check = (): void => {
        const seen = found();
        if (!seen) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(seen);
      };
      this.#waiters.add(check);
    });
  }
}

export function describeBackendConformance(
  kind: string,
  makeFixture: (dirs: FixtureDirs) => Promise<BackendFixture>,
  skipReason?: string,
): void {
  describe.skipIf(skipReason !== undefined)(`ProcessBackend contract: ${kind}`, () => {
    const app = `conf${randomBytes(3).toString("hex")}`;
    const control = new ControlHarness();
    let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
    let fixture: BackendFixture;
    let exits: ExitLog;
    let echoKey = "";
    let names = 0;
    const nextName = (): string => `p${++names}`;

    beforeAll(async () => {
      temp = await makeTempDir(`backend-${kind}`);
      fixture = await makeFixture({ dataDir: temp.dir });
      exits = new ExitLog(fixture.backend);
      await control.listen(fixture.controlHost);
      echoKey = await control.addBundle(app, "echo-js");
    });

    afterAll(async () => {
      try {
        await fixture?.backend.shutdown();
        await fixture?.close();
        await control.close();
      } finally {
        await temp?.remove();
      }
    });

    async function echoThrough(started: StartedProcess, token: string): Promise<string> {
      const conn = await connect({ host: started.host, port: started.port, token });
      try {
        return Buffer.from(await conn.invoke("echo", "hi")).toString();
      } finally {
        await conn.close();
      }
    }

    it("start resolves once the process has registered and serves its data plane", async () => {
      const spec = control.spec(app, nextName(), echoKey);
      const started = await fixture.backend.start(spec);
      expect(control.isRegistered(app, spec.name)).toBe(true);
      expect(fixture.backend.running()).toContain(started.backendId);
      expect(await echoThrough(started, spec.token)).toBe("hi");
      await fixture.backend.stop(started.backendId);
    });

    it("a start that fails rejects with a PraaSError and leaves nothing running", async () => {
      const badKey = control.addCode(
        app,
        "throws-on-load",
        'export function f() {}\nthrow new RangeError("boom at import time");\n',
      );
      const spec = control.spec(app, nextName(), badKey);
      const before = fixture.backend.running();
      await expect(fixture.backend.start(spec)).rejects.toBeInstanceOf(PraaSError);
      expect(fixture.backend.running()).toEqual(before);
      expect(exits.named(spec.name)).toEqual([]);
      expect((await fixture.leftovers(app)).filter((item) => item.includes(spec.name))).toEqual([]);
    });

    it("stop ends the process and reports its exit once; stopping again or an unknown id resolves", async () => {
      const spec = control.spec(app, nextName(), echoKey);
      const started = await fixture.backend.start(spec);
      await fixture.backend.stop(started.backendId, 5_000);
      await exits.waitFor(started.backendId);
      expect(fixture.backend.running()).not.toContain(started.backendId);
      await fixture.backend.stop(started.backendId);
      await fixture.backend.stop(`${kind}:no-such-process`);
      expect(exits.of(started.backendId)).toHaveLength(1);
      expect(exits.of(started.backendId)[0]).toMatchObject({ app, name: spec.name });
    });

    it("a process killed from outside is reported once, as a crash", async () => {
      const spec = control.spec(app, nextName(), echoKey);
      const started = await fixture.backend.start(spec);
      await fixture.kill(started);
      const exit = await exits.waitFor(started.backendId);
      expect(exit.code === 0 && exit.signal === null).toBe(false);
      expect(fixture.backend.running()).not.toContain(started.backendId);
      await fixture.backend.stop(started.backendId);
      expect(exits.of(started.backendId)).toHaveLength(1);
    });

    it("shutdown stops every process it started and leaves nothing behind", async () => {
      const specs = [nextName(), nextName()].map((name) => control.spec(app, name, echoKey));
      const started = await Promise.all(specs.map((spec) => fixture.backend.start(spec)));
      await fixture.backend.shutdown();
      for (const one of started) await exits.waitFor(one.backendId);
      expect(fixture.backend.running()).toEqual([]);
      expect(await fixture.leftovers(app)).toEqual([]);
    });

    it("shutdown lets go of the processes it is told to keep: they go on serving", async () => {
      const specs = [nextName(), nextName()].map((name) => control.spec(app, name, echoKey));
      const [kept, stopped] = await Promise.all(specs.map((spec) => fixture.backend.start(spec)));
      await fixture.backend.shutdown(new Set([kept!.backendId]));
      await exits.waitFor(stopped!.backendId);
      expect(fixture.backend.running()).not.toContain(stopped!.backendId);
      expect(await echoThrough(kept!, specs[0]!.token)).toBe("hi");
      await fixture.kill(kept!);
    });

    it("keeps the write-ahead log of a durable process where deleteLog finds it", async () => {
      const durableKey = await control.addBundle(app, "durable");
      const spec = control.spec(app, nextName(), durableKey, { durability: "log" });
      const started = await fixture.backend.start(spec);
      const conn = await connect({ host: started.host, port: started.port, token: spec.token });
      expect(Buffer.from(await conn.invoke("put", "k=v")).toString()).toBe("ok");
      await conn.close();
      await fixture.backend.stop(started.backendId);
      expect(await fixture.logExists(app, spec.name)).toBe(true);
      await fixture.backend.deleteLog?.(app, spec.name);
      expect(await fixture.logExists(app, spec.name)).toBe(false);
      await fixture.backend.deleteLog?.(app, spec.name); // a missing log is fine
    });

    it("applies the resources: vcpus workers, and the memory limit where the platform shows it", async () => {
      const spec = control.spec(app, nextName(), echoKey, { vcpus: 2, memoryMiB: 192 });
      const started = await fixture.backend.start(spec);
      const status = await control.links.command(app, spec.name, "status");
      expect(status.workers).toHaveLength(2);
      if (fixture.memoryLimitBytes)
        expect(await fixture.memoryLimitBytes(started)).toBe(192 * 1024 * 1024);
      await fixture.backend.stop(started.backendId);
    });
  });
}
