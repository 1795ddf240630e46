// The docker backend (one container per process, against this machine's dockerd) against the
// ProcessBackend contract. Skipped, with the reason, when no engine or image is there.
import { access } from "node:fs/promises";
import path from "node:path";
import { DockerBackend, walVolume } from "../../src/backends/index.js";
import { bridgeGateway } from "../../src/backends/docker/index.js";
import { docker, dockerSkipReason, testControlPlaneId } from "../helpers/docker.js";
import { describeBackendConformance } from "./backend.conformance.js";

const skip = await dockerSkipReason();

describeBackendConformance(
  "docker",
  async ({ dataDir }) => {
    const gateway = await bridgeGateway(docker);
    const backend = new DockerBackend({
      docker,
      controlPlaneId: testControlPlaneId("conformance"),
      advertiseHost: gateway,
      blobs: { kind: "disk", root: path.join(dataDir, "blobs") },
      logLevel: "error",
    });
    return {
      backend,
      controlHost: gateway,
      kill: (started) => docker.getContainer(started.backendId.slice("docker:".length)).kill(),
      leftovers: async (app) =>
        (await docker.listContainers({ all: true, filters: { label: [`praas.app=${app}`] } })).map(
          (info) => `${info.Names.join(",")} ${info.State}`,
        ),
      logExists: async (app, name) => {
        const volume = await docker
          .getVolume(walVolume(app, name))
          .inspect()
          .catch(() => undefined);
        return volume !== undefined && (await exists(path.join(volume.Mountpoint, `${name}.wal`)));
      },
      memoryLimitBytes: async (started) =>
        (await docker.getContainer(started.backendId.slice("docker:".length)).inspect()).HostConfig
          .Memory ?? 0,
      close: () => Promise.resolve(),
    };
  },
  skip,
);

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
