// The local backend (child processes of this one) against the ProcessBackend contract: once
// starting every process on the spot, once taking them from a warm pool that fits the suite's
// processes (1 vcpu, 128 MiB), so pooled processes keep the whole contract too.
import { readFileSync } from "node:fs";
import { access } from "node:fs/promises";
import path from "node:path";
import { LocalBackend, type LocalBackendOptions } from "../../src/backends/index.js";
import { parseLocalBackendId } from "../../src/backends/local-pids.js";
import { describeBackendConformance } from "./backend.conformance.js";
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
