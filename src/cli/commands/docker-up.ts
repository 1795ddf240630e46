/**
 * `praas up --backend docker`: processes run as containers of the `praas-runtime` image. By
 * default the control plane advertises (and listens for control links on) the docker0 gateway,
 * an address both containers and this host reach; the disk blob store lives at an absolute path
 * bound into every container. Containers of this control-plane id left by an earlier run are
 * adopted before the control plane starts (see DockerBackend.adopt).
 */
import path from "node:path";
import { ControlPlane } from "../../control-plane/control-plane.js";
import type { ControlPlaneOptions } from "../../control-plane/config.js";
import { DockerBackend } from "../../backends/index.js";
import { bridgeGateway, dockerClient } from "../../backends/docker/index.js";

export interface DockerUpFlags {
  dockerHost: string | undefined;
  controlPlaneId: string;
  image: string;
  /** The Docker network process containers join (default: the bridge). */
  network: string | undefined;
}

export async function startWithDocker(
  options: ControlPlaneOptions,
  flags: DockerUpFlags,
): Promise<ControlPlane> {
  const docker = dockerClient(flags.dockerHost);
  const advertiseHost = options.advertiseHost ?? (await bridgeGateway(docker));
  const dataDir = path.resolve(options.dataDir ?? ".praas");
  const blobs = options.blobs ?? { kind: "disk" as const, root: path.join(dataDir, "blobs") };
  const backend = new DockerBackend({
    docker,
    image: flags.image,
    ...(flags.network === undefined ? {} : { network: flags.network }),
    controlPlaneId: flags.controlPlaneId,
    advertiseHost,
    blobs,
    ...(options.reconnectGraceMs === undefined ? {} : { adoptGraceMs: options.reconnectGraceMs }),
    logLevel: options.processLogLevel ?? "warn",
  });
  await backend.adopt();
  return ControlPlane.start(
    { ...options, advertiseHost, dataDir, blobs },
    { backend: () => backend },
  );
}
