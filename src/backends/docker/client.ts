/**
 * One way to reach the Docker engine: the local socket by default, or a DOCKER_HOST-style URL
 * (`unix:///path`, `tcp://host:port`) that the caller read from its own flags or environment.
 */
import Docker from "dockerode";
import { PraaSError } from "../../protocol/index.js";

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

export function dockerClient(dockerHost?: string): Docker {
  if (dockerHost === undefined || dockerHost === "")
    return new Docker({ socketPath: DEFAULT_DOCKER_SOCKET });
  const url = new URL(dockerHost);
  if (url.protocol === "unix:") return new Docker({ socketPath: url.pathname });
  if (url.protocol === "tcp:" || url.protocol === "http:")
    return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: "http" });
  throw new PraaSError("BAD_REQUEST", `unsupported Docker host ${dockerHost}`);
}

/** Whether the engine answers (a reachable daemon), without throwing. */
export async function dockerReachable(docker: Docker): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

/** The gateway of Docker's default bridge (docker0): the host as containers see it. */
export async function bridgeGateway(docker: Docker): Promise<string> {
  const bridge = (await docker.getNetwork("bridge").inspect()) as {
    IPAM?: { Config?: { Gateway?: string }[] };
  };
  const gateway = bridge.IPAM?.Config?.find((config) => config.Gateway)?.Gateway;
  if (gateway === undefined)
    throw new PraaSError("BACKEND_ERROR", "Docker's bridge network has no gateway address");
  return gateway;
}
