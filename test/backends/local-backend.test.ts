// The local backend (child processes of this one) against the ProcessBackend contract.
import { access } from "node:fs/promises";
import path from "node:path";
import { LocalBackend } from "../../src/backends/index.js";
import { parseLocalBackendId } from "../../src/backends/local-pids.js";
import { describeBackendConformance } from "./backend.conformance.js";

describeBackendConformance("local", ({ dataDir }) => {
  const backend = new LocalBackend({
    dataDir,
    blobs: { kind: "disk", root: path.join(dataDir, "blobs") },
    logLevel: "error",
  });
  return Promise.resolve({
    backend,
    controlHost: "127.0.0.1",
    kill: (started) => {
      process.kill(parseLocalBackendId(started.backendId)?.pid ?? NaN, "SIGKILL");
      return Promise.resolve();
    },
    leftovers: () => Promise.resolve(backend.running()),
    logExists: (app, name) => exists(path.join(dataDir, "wal", app, `${name}.wal`)),
    close: () => Promise.resolve(),
  });
});

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
