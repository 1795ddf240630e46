/** Groups of process statuses the manager's parts decide by. */
import type { ProcessStatus } from "../../protocol/index.js";

/** The statuses an operation passes through: a record left in one has lost its operation. */
export const TRANSITIONAL: ReadonlySet<ProcessStatus> = new Set([
  "allocating",
  "swapping",
  "resuming",
]);

/** Where a process rests between operations. */
export const SETTLED: ReadonlySet<ProcessStatus> = new Set(["active", "swapped", "failed"]);
