// The local backend (child processes of this one) against the ProcessBackend contract: once
// starting every process on the spot, once taking them from a warm pool that fits the suite's
// processes (1 vcpu, 128 MiB), so pooled processes keep the whole contract too.
import { readFileSync } from "node:fs";
import { access, readFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LocalBackend, type LocalBackendOptions } from "../../src/backends/index.js";
import { parseLocalBackendId } from "../../src/backends/local-pids.js";
import { connect } from "../../src/sdk/index.js";
import { describeBackendConformance } from "./backend.conformance.js";
import { ControlHarness } from "./control-harness.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { children } from "../helpers/process-tree.js";

const POOL = { size: 1, vcpus: 1, memoryMiB: 128, maxPayloadBytes: 64 * 1024 * 1024 };

for (const [kind, warmPool] of [
  ["local", undefined],
  ["local with a warm pool", POOL],
] as const) {
  describeBackendConformance(kind, ({ dataDir }) => {
    const options: LocalBackendOptions = {
      dataDir,
      blobs: { kind: "disk", root: path.join(dataDir, "blobs") },
      logLevel: "error",
      ...(warmPool ? { warmPool } : {}),
    };
    const backend = new LocalBackend(options);
    return Promise.resolve({
      backend,
      controlHost: "127.0.0.1",
      kill: (started) => {
        process.kill(parseLocalBackendId(started.backendId)?.pid ?? NaN, "SIGKILL");
        return Promise.resolve();
      },
      // Processes, and warm-pool runtimes still waiting (after shutdown: leaked).
      leftovers: () => Promise.resolve([...backend.running(), ...waitingRuntimes().map(String)]),
      logExists: (app, name) => exists(path.join(dataDir, "wal", app, `${name}.wal`)),
      // With a pool, the suite's processes must really have come from it.
      close: () =>
        warmPool && !(Number(backend.warmPool?.()?.takes) > 0)
          ? Promise.reject(new Error("no process was taken from the warm pool"))
          : Promise.resolve(),
    });
  });
}

/** Children of this process that are warm-pool runtimes (`main.js --warm`). */
function waitingRuntimes(): number[] {
  return children(process.pid).filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0").includes("--warm");
    } catch {
      return false; // gone meanwhile
    }
  });
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

interface BundleRig {
  dir: string;
  control: ControlHarness;
  backend: LocalBackend;
  key: string;
}

/** A local backend over a fresh data dir with one bundle deployed; torn down after `body`. */
async function withBundle(label: string, body: (rig: BundleRig) => Promise<void>): Promise<void> {
  const temp = await makeTempDir(label);
  const control = new ControlHarness();
  const backend = new LocalBackend({
    dataDir: temp.dir,
    blobs: { kind: "disk", root: path.join(temp.dir, "blobs") },
    logLevel: "error",
  });
  try {
    await control.listen("127.0.0.1");
    const key = await control.addBundle("cache", "echo-js");
    await body({ dir: temp.dir, control, backend, key });
  } finally {
    await backend.shutdown();
    await control.close();
    await temp.remove();
  }
}

/** Starts `name` from the rig's bundle and checks it runs it. */
async function startsAndEchoes(rig: BundleRig, name: string): Promise<string> {
  const spec = rig.control.spec("cache", name, rig.key);
  const started = await rig.backend.start(spec);
  const conn = await connect({ host: started.host, port: started.port, token: spec.token });
  expect(Buffer.from(await conn.invoke("echo", "hi")).toString()).toBe("hi");
  await conn.close();
  return started.backendId;
}

describe("the local backend's bundle files", () => {
  it("writes a bundle file again when it went missing from the data dir", async () => {
    await withBundle("bundle-cache", async (rig) => {
      const first = await startsAndEchoes(rig, "p1");
      const cache = path.join(rig.dir, "bundles");
      const files = await readdir(cache);
      expect(files).toHaveLength(1);
      await rm(cache, { recursive: true }); // someone cleaned the data dir
      await rig.backend.stop(await startsAndEchoes(rig, "p2"));
      expect(await readdir(cache)).toEqual(files);
      await rig.backend.stop(first);
    });
  });

  it("writes a bundle file again when it was emptied while the backend ran", async () => {
    await withBundle("bundle-emptied", async (rig) => {
      const first = await startsAndEchoes(rig, "p1");
      const cache = path.join(rig.dir, "bundles");
      const [name = ""] = await readdir(cache);
      const size = (await readFile(path.join(cache, name))).length;
      await writeFile(path.join(cache, name), ""); // emptied, not removed
      await rig.backend.stop(await startsAndEchoes(rig, "p2"));
      expect((await readFile(path.join(cache, name))).length).toBe(size);
      await rig.backend.stop(first);
    });
  });
});
