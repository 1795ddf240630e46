/** Resident memory of a process and all its descendants, and whether one runs, from /proc (Linux). */
import { readFileSync } from "node:fs";

const PAGE_BYTES = 4096;

export const MIB = 1024 * 1024;

/** The children of `pid` (those its main thread started). */
export function children(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return text === "" ? [] : text.split(" ").map(Number);
  } catch {
    return [];
  }
}

/** Every process below `pid`. */
export function descendants(pid: number): number[] {
  return children(pid).flatMap((child) => [child, ...descendants(child)]);
}

function residentBytes(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * PAGE_BYTES;
  } catch {
    return 0;
  }
}

/** Sum of the resident memory of `pid` and its descendants. */
export function treeRss(pid: number): number {
  return [pid, ...children(pid)].reduce(
    (sum, p) => sum + (p === pid ? residentBytes(p) : treeRss(p)),
    0,
  );
}

/** Samples the tree's resident memory every `everyMs` until stopped; `stop` returns the peak. */
export function sampleTreeRss(pid: number, everyMs = 20): { stop(): number } {
  let peak = treeRss(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, treeRss(pid));
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, treeRss(pid));
    },
  };
}

/** Runs (a zombie waiting for a reaper that may not exist in a container counts as dead). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
