/** What a soak run found: written as its JSON result and judged by invariants.ts. */
import type { FaultCounts } from "./faults.js";
import type { FuzzStats } from "./fuzz.js";
import type { LongWait } from "./ledger.js";
import type { DurabilityUsed } from "./processes.js";
import type { Verification } from "./verify.js";

export interface Invariant {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SoakResult {
  date: string;
  options: { durationMs: number; short: boolean; processes: number };
  durability: DurabilityUsed;
  /** Processes that could not come back after a kill, replaced by new ones of the same name. */
  replaced: number;
  /** Each fault with its time in ms since the start, for reading losses against. */
  faultLog: string[];
  elapsedMs: number;
  faults: FaultCounts;
  outcomes: Record<string, Record<string, number>>;
  longestWait: LongWait;
  /** Requests that failed TIMEOUT waiting for a process to become active. */
  waitedOutActivation: number;
  /** The first error message per request kind and code. */
  firstErrors: Record<string, string>;
  verification: Verification;
  fuzz: FuzzStats;
  peakRss: { controlPlaneBytes: number; processBytes: Record<string, number> };
  leaks: { tracked: number; leftover: string[] };
  controlPlaneCrashes: string[];
  /** What the control plane and its processes logged (warnings and worse), by message. */
  logs: Record<string, number>;
  invariants: Invariant[];
  passed: boolean;
}
