/** Every experiment, in the order a run performs them. */
import type { Experiment } from "../experiment.js";
import { coldStart } from "./cold-start.js";
import { controlPlane } from "./control-plane.js";
import { density } from "./density.js";
import { direct } from "./direct.js";
import { dockerColdStart, dockerDirect } from "./docker.js";
import { durablePuts, recovery } from "./durability.js";
import { local } from "./local.js";
import { messaging, messagingRedis } from "./messaging.js";
import { natConnect, natDirect } from "./nat.js";
import { reduction } from "./reduction.js";
import { resume } from "./resume.js";
import { state } from "./state.js";
import { swap } from "./swap.js";
import { throughput } from "./throughput.js";

export const EXPERIMENTS: readonly Experiment[] = [
  direct,
  local,
  controlPlane,
  messaging,
  messagingRedis,
  state,
  reduction,
  throughput,
  coldStart,
  resume,
  swap,
  durablePuts,
  recovery,
  density,
  dockerColdStart,
  dockerDirect,
  natDirect,
  natConnect,
];

export const EXPERIMENT_NAMES = EXPERIMENTS.map((e) => e.name);

/** The experiments named in `only` (all when undefined), in run order; unknown names throw. */
export function selectExperiments(only: string[] | undefined): Experiment[] {
  if (only === undefined) return [...EXPERIMENTS];
  const unknown = only.filter((name) => !EXPERIMENT_NAMES.includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown experiment(s) ${unknown.join(", ")}; known: ${EXPERIMENT_NAMES.join(", ")}`,
    );
  }
  return EXPERIMENTS.filter((e) => only.includes(e.name));
}
