/**
 * What the soak did and what it was told: every request's outcome (by error code) and wait,
 * the writes and messages acknowledged to it, and per process the successful swaps and the
 * kills, which decide which acknowledged data a `memory` process may lose.
 */
export const OK = "OK";
/** A request that got no answer within the soak's own bound. */
export const HUNG = "SOAK_HUNG";

interface Interval {
  start: number;
  end: number;
}

class ProcessHistory {
  /** Write sequence number → when its success was seen. */
  readonly writes = new Map<number, number>();
  /**
   * Message id (`sender:seq`) sent to this process → when its send began and when it succeeded:
   * the message may be in the mailbox, and taken by a `receive`, well before the sender hears
   * that it arrived.
   */
  readonly messages = new Map<string, { sentAt: number; ackedAt: number }>();
  readonly swaps: Interval[] = [];
  readonly kills: number[] = [];
  /** When a `receive` here ended failing in a way that may have run it (it may have consumed messages). */
  readonly failedReceives: { at: number; code: string }[] = [];
  /** Messages the soak saw this process consume. */
  readonly received = new Set<string>();
  nextSeq = 1;
  nextMessage = 1;
}

export interface LongWait {
  ms: number;
  kind: string;
  code: string;
  /** When it ended, in ms since the soak started. */
  at: number;
  message?: string;
}

export class Ledger {
  readonly #outcomes = new Map<string, Map<string, number>>();
  readonly #processes = new Map<string, ProcessHistory>();
  /** The first message seen per request kind and error code: what the report shows. */
  readonly #firstMessages = new Map<string, string>();
  longestWait: LongWait = { ms: 0, kind: "", code: "", at: 0 };
  readonly startedAt = Date.now();
  /** Requests that waited out a whole timeout for a process to become active (see invariants). */
  waitedOutActivation = 0;

  process(name: string): ProcessHistory {
    let history = this.#processes.get(name);
    if (history === undefined) {
      history = new ProcessHistory();
      this.#processes.set(name, history);
    }
    return history;
  }

  /** Every fault injected: when (ms since the start), what, and where. */
  readonly faultLog: string[] = [];

  fault(what: string): void {
    this.faultLog.push(`${Date.now() - this.startedAt} ${what}`);
  }

  /** Histories of processes that could not come back and were replaced under the same name. */
  readonly retired: { name: string; reason: string; history: ProcessHistory }[] = [];

  retire(name: string, reason: string): void {
    const history = this.#processes.get(name);
    if (history !== undefined) this.retired.push({ name, reason, history });
    this.#processes.set(name, new ProcessHistory());
  }

  get names(): string[] {
    return [...this.#processes.keys()];
  }

  outcome(kind: string, code: string, waitedMs: number, message?: string): void {
    const key = `${kind} ${code}`;
    if (
      code === "TIMEOUT" &&
      / not (active|swapped|active or swapped or failed) in \d+ ms/.test(message ?? "")
    )
      this.waitedOutActivation++;
    if (message !== undefined && !this.#firstMessages.has(key))
      this.#firstMessages.set(key, message);
    let codes = this.#outcomes.get(kind);
    if (codes === undefined) this.#outcomes.set(kind, (codes = new Map<string, number>()));
    codes.set(code, (codes.get(code) ?? 0) + 1);
    if (waitedMs > this.longestWait.ms) {
      const at = Date.now() - this.startedAt;
      this.longestWait = {
        ms: Math.round(waitedMs),
        kind,
        code,
        at,
        ...(message ? { message } : {}),
      };
    }
  }

  outcomes(): Record<string, Record<string, number>> {
    const sorted = [...this.#outcomes.entries()].sort(([a], [b]) => a.localeCompare(b));
    return Object.fromEntries(sorted.map(([kind, codes]) => [kind, Object.fromEntries(codes)]));
  }

  firstMessages(): Record<string, string> {
    return Object.fromEntries(
      [...this.#firstMessages.entries()].sort(([a], [b]) => a.localeCompare(b)),
    );
  }

  count(code: string): number {
    let total = 0;
    for (const codes of this.#outcomes.values()) total += codes.get(code) ?? 0;
    return total;
  }
}

export type { ProcessHistory };

/**
 * Under `memory`, data acknowledged at `ackedAt` may be lost when the process was killed later
 * with no successful swap that started after the acknowledgement and ended before the kill.
 */
export function mayBeLost(history: ProcessHistory, ackedAt: number): boolean {
  return history.kills.some(
    (killedAt) =>
      killedAt > ackedAt &&
      !history.swaps.some((swap) => swap.start > ackedAt && swap.end < killedAt),
  );
}
