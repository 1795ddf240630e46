/**
 * One way to reach the Docker engine: the local socket by default, or a DOCKER_HOST-style URL
 * (`unix:///path`, `tcp://host:port`) that the caller read from its own flags or environment.
 */
import { networkInterfaces } from "node:os";
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

/**
 * The gateway of Docker's default bridge (docker0): the host as containers see it. A daemon
 * that just created the bridge may list its subnet without the gateway: then the bridge's own
 * address here, or else the subnet's first host (where Docker puts it by default).
 */
export async function bridgeGateway(docker: Docker): Promise<string> {
  const bridge = (await docker.getNetwork("bridge").inspect()) as {
    IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] };
  };
  const configs = bridge.IPAM?.Config ?? [];
  const gateway =
    configs.find((config) => config.Gateway)?.Gateway ??
    localBridgeAddress() ??
    configs.map((config) => firstHost(config.Subnet)).find((host) => host !== undefined);
  if (gateway === undefined)
    throw new PraaSError("BACKEND_ERROR", "Docker's bridge network has no gateway address");
  return gateway;
}

function localBridgeAddress(): string | undefined {
  return networkInterfaces().docker0?.find((address) => address.family === "IPv4")?.address;
}

/** "172.17.0.0/16" → "172.17.0.1"; undefined for anything but an IPv4 subnet. */
export function firstHost(subnet: string | undefined): string | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(subnet ?? "");
  if (match === null || Number(match[5]) > 30) return undefined;
  const octets = match.slice(1, 5).map(Number);
  if (octets.some((octet) => octet > 255)) return undefined;
  const base = octets.reduce((value, octet) => value * 256 + octet, 0);
  const host = base - (base % 2 ** (32 - Number(match[5]))) + 1;
  return [24, 16, 8, 0].map((shift) => Math.floor(host / 2 ** shift) % 256).join(".");
}
