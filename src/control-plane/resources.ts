/** Resource requests: body values, else the application's defaults, else the configured ones; within limits. */
import { PraaSError, type CreateProcessBody } from "../protocol/index.js";
import type { Resources } from "../storage/index.js";
import type { ControlPlaneConfig } from "./config.js";

export function resolveResources(
  body: CreateProcessBody,
  defaults: Partial<Resources>,
  config: ControlPlaneConfig,
): Resources {
  const vcpus = body.vcpus ?? defaults.vcpus ?? config.defaultVcpus;
  const memory = body.memory ?? defaults.memory ?? config.defaultMemoryMiB;
  check(vcpus, "vcpus", 0, config.maxVcpus, false);
  check(memory, "memory", 16, config.maxMemoryMiB, true);
  return { vcpus, memory };
}

function check(value: unknown, what: string, min: number, max: number, integer: boolean): void {
  const ok = typeof value === "number" && Number.isFinite(value) && value > min && value <= max;
  if (!ok || (integer && !Number.isInteger(value))) {
    const kind = integer ? "an integer" : "a number";
    throw new PraaSError(
      "BAD_REQUEST",
      `${what} must be ${kind} in (${min}, ${max}], got ${JSON.stringify(value)}`,
    );
  }
}
