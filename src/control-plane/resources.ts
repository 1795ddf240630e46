/** Resource requests: body values, else the application's defaults, else the configured ones; within limits. */
import {
  PraaSError,
  parseProcessLimits,
  type AppDefaultsInfo,
  type CreateProcessBody,
  type ProcessLimits,
} from "../protocol/index.js";
import type { Resources } from "../storage/index.js";
import type { ControlPlaneConfig } from "./config.js";

export function resolveResources(
  body: CreateProcessBody,
  defaults: AppDefaultsInfo,
  config: ControlPlaneConfig,
): Resources {
  const vcpus = body.vcpus ?? defaults.vcpus ?? config.defaultVcpus;
  const memory = body.memory ?? defaults.memory ?? config.defaultMemoryMiB;
  check(vcpus, "vcpus", 0, config.maxVcpus, false);
  check(memory, "memory", 16, config.maxMemoryMiB, true);
  checkFits(memory, vcpus);
  return { vcpus, memory };
}

/** Limits: each key of the body's, else the application's default for it, else none (runtime's). */
export function resolveProcessLimits(
  body: CreateProcessBody,
  defaults: AppDefaultsInfo,
): ProcessLimits {
  const requested = body.limits === undefined ? {} : parseProcessLimits(body.limits);
  return { ...defaults.limits, ...requested };
}

/** What one process needs besides its functions' own memory (measured: ~12 + ~10 per worker). */
const BASE_MIB = 32;
const PER_WORKER_MIB = 24;

/** The memory limit covers the whole process: below this it could not even start. */
function checkFits(memory: number, vcpus: number): void {
  const workers = Math.max(1, Math.round(vcpus));
  const least = BASE_MIB + PER_WORKER_MIB * workers;
  if (memory < least) {
    throw new PraaSError(
      "BAD_REQUEST",
      `memory must be at least ${least} MiB for ${workers} worker(s), got ${memory}`,
    );
  }
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
