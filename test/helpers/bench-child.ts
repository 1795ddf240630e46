/** Driving `node dist/bench/main.js` from a test: its progress lines and what it started. */
import type { ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import readline from "node:readline";

/** Resolves once the bench reports `line` on stderr; rejects when it ends first or in time. */
export function progressLine(child: ChildProcess, line: string, timeoutMs: number): Promise<void> {
  const lines = readline.createInterface({ input: child.stderr! });
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${line}" in time`)), timeoutMs);
    child.once("exit", () => reject(new Error(`the bench ended before "${line}"`)));
    lines.on("line", (text) => {
      if (!text.includes(line)) return;
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Processes whose command line mentions `text` (their working files live under it). */
export function processesMentioning(text: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text);
      } catch {
        return false; // ended meanwhile
      }
    })
    .map(Number);
}
