/** The invariants a soak run must hold, judged from its result: any that fails fails the run. */
import type { SoakOptions } from "./options.js";
import type { Invariant, SoakResult } from "./result.js";
import { HUNG } from "./ledger.js";
import { FAULT_KINDS } from "./faults.js";

const MIB = 1024 * 1024;
/** The control plane holds metadata and connections only. */
export const CONTROL_PLANE_RSS_BOUND = 512 * MIB;
/** A process's `memory` covers it and its workers; some slack for sampling between a kill and a check. */
export const PROCESS_RSS_BOUND = (256 + 128) * MIB;
/** Nothing may wait longer than the deployment's own timeout allows, plus slack for a loaded machine. */
export const WAIT_SLACK_MS = 10_000;
export const FULL_RUN_FUZZ_FRAMES = 1_000_000;

type Judged = Omit<SoakResult, "invariants" | "passed">;

export function judge(result: Judged, options: SoakOptions): Invariant[] {
  const { writes, messages, unreadable } = result.verification;
  const peakProcess = Math.max(0, ...Object.values(result.peakRss.processBytes));
  const missingFaults = FAULT_KINDS.filter(
    (kind) => result.faults[kind].injected === 0 && result.faults[kind].skipped === 0,
  );
  const waitBound = options.invocationTimeoutMs + WAIT_SLACK_MS;
  const hung = Object.values(result.outcomes).reduce((sum, codes) => sum + (codes[HUNG] ?? 0), 0);
  const fuzzTarget = options.short
    ? options.fuzzFrames
    : Math.max(
        options.fuzzFrames,
        FULL_RUN_FUZZ_FRAMES * Math.min(1, options.durationMs / 600_000),
      );
  return [
    check(
      "acknowledged writes lost",
      writes.lostUnexcused === 0,
      `${writes.lostUnexcused} of ${writes.acknowledged} lost without excuse (${writes.lostExcused} excused by a kill after the last swap) ${writes.examples.join(", ")}`,
    ),
    check(
      "acknowledged messages lost",
      messages.lostUnexcused === 0,
      `${messages.lostUnexcused} of ${messages.acknowledged} lost without excuse (${messages.lostExcused} excused by a kill, ${messages.lostInFailedReceive} consumed by a receive that failed) ${messages.examples.join(", ")}`,
    ),
    readable(unreadable, result.verification.heldByUnusable),
    check(
      "OS processes leaked after shutdown",
      result.leaks.leftover.length === 0,
      `${result.leaks.leftover.length} of ${result.leaks.tracked} seen: ${result.leaks.leftover.join("; ")}`,
    ),
    check(
      "control plane peak RSS bounded",
      result.peakRss.controlPlaneBytes <= CONTROL_PLANE_RSS_BOUND,
      `${mib(result.peakRss.controlPlaneBytes)} ≤ ${mib(CONTROL_PLANE_RSS_BOUND)}`,
    ),
    check(
      "process peak RSS bounded",
      peakProcess <= PROCESS_RSS_BOUND,
      `${mib(peakProcess)} ≤ ${mib(PROCESS_RSS_BOUND)}`,
    ),
    check(
      "no request hung",
      hung === 0 && result.longestWait.ms <= waitBound,
      `${hung} hung; longest wait ${result.longestWait.ms} ms (${result.longestWait.kind}, ${result.longestWait.code} ${result.longestWait.message ?? ""} at ${result.longestWait.at} ms) ≤ ${waitBound} ms`,
    ),
    activation(result.waitedOutActivation),
    check(
      "control plane never crashed by itself",
      result.controlPlaneCrashes.length === 0,
      result.controlPlaneCrashes.join("; ") || "none",
    ),
    check(
      "every fault kind injected",
      missingFaults.length === 0,
      missingFaults.join(", ") || "all",
    ),
    check(
      "fuzzed frames sent",
      result.fuzz.frames >= fuzzTarget,
      `${result.fuzz.frames} ≥ ${Math.round(fuzzTarget)}`,
    ),
  ];
}

function activation(count: number): Invariant {
  return check(
    "no request waited out its timeout for a process to become active",
    count === 0,
    `${count} TIMEOUT "not active … in … ms"`,
  );
}

function readable(
  unreadable: Record<string, string>,
  held: { writes: number; messages: number },
): Invariant {
  const entries = Object.entries(unreadable);
  const names = entries.map(([name, error]) => `${name}: ${error}`).join("; ");
  const detail =
    entries.length === 0
      ? "all"
      : `${names} (holding ${held.writes} acknowledged writes, ${held.messages} messages)`;
  return check("every process usable again after the run", entries.length === 0, detail);
}

function check(name: string, ok: boolean, detail: string): Invariant {
  return { name, ok, detail };
}

export function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}
