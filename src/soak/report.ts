/** Writes `<date>.json`, `<date>.md` and `latest.md` into the output directory. */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { mib } from "./invariants.js";
import type { SoakResult } from "./result.js";

export async function writeReports(result: SoakResult, outDir: string): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const base = path.join(outDir, result.date);
  await writeFile(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const markdown = renderMarkdown(result);
  await writeFile(`${base}.md`, markdown);
  await writeFile(path.join(outDir, "latest.md"), markdown);
  return base;
}

function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** One table cell: no pipes or newlines, bounded. */
function cell(text: string): string {
  return text.replace(/[|\n]/g, " ").slice(0, 240);
}

export function renderMarkdown(result: SoakResult): string {
  const { writes, messages, heldByUnusable: held } = result.verification;
  const sections = [
    `# Soak ${result.date}: ${result.passed ? "PASSED" : "FAILED"}`,
    `${result.options.short ? "Short" : "Full"} run, ${result.options.durationMs / 1000} s of load on ${result.options.processes} processes, durability ${result.durability.used}${result.durability.note ? ` (${result.durability.note})` : ""}; ${(result.elapsedMs / 1000).toFixed(1)} s in all.`,
    "## Invariants",
    table(
      ["invariant", "ok", "detail"],
      result.invariants.map((c) => [c.name, c.ok ? "✓" : "✗", c.detail]),
    ),
    "## Faults injected",
    table(
      ["fault", "injected", "skipped", "notes"],
      Object.entries(result.faults).map(([kind, c]) => [
        kind,
        c.injected,
        c.skipped,
        c.notes.join("; "),
      ]),
    ),
    "## Acknowledged data",
    "Checked on every process that could be read after the run; under `memory`, data acknowledged before a kill with no swap in between is excused.",
    table(
      [
        "what",
        "acknowledged",
        "found",
        "lost (excused)",
        "consumed by a failed receive",
        "lost (unexcused)",
      ],
      [
        [
          "writes",
          writes.acknowledged,
          writes.found,
          writes.lostExcused,
          "–",
          writes.lostUnexcused,
        ],
        [
          "messages",
          messages.acknowledged,
          messages.found,
          messages.lostExcused,
          messages.lostInFailedReceive,
          messages.lostUnexcused,
        ],
      ],
    ),
    `Held by processes that could not be used again: ${held.writes} writes, ${held.messages} messages.`,
    "## Outcomes by request kind",
    table(
      ["request", "outcomes"],
      Object.entries(result.outcomes).map(([kind, codes]) => [
        kind,
        Object.entries(codes)
          .map(([code, n]) => `${code} ${n}`)
          .join(", "),
      ]),
    ),
    `Longest wait: ${result.longestWait.ms} ms (${result.longestWait.kind}: ${result.longestWait.code} ${result.longestWait.message ?? ""}, ended ${result.longestWait.at} ms after the start).`,
    "## First error per request kind and code",
    table(
      ["request and code", "message"],
      Object.entries(result.firstErrors).map(([key, message]) => [key, cell(message)]),
    ),
    "## What the deployment logged (warnings and worse)",
    table(
      ["count", "line"],
      Object.entries(result.logs)
        .sort(([, a], [, b]) => b - a)
        .map(([line, count]) => [count, cell(line)]),
    ),
    "## Fuzzing",
    `${result.fuzz.frames} frames (${result.fuzz.framesByLink["data-plane"]} data plane, ${result.fuzz.framesByLink["control-link"]} control link) over ${result.fuzz.connections} connections; ${result.fuzz.closedByServer} closed by the server, ${result.fuzz.refused} refused.`,
    "## Memory and processes",
    table(
      ["process", "peak RSS"],
      [
        ["control plane", mib(result.peakRss.controlPlaneBytes)],
        ...Object.entries(result.peakRss.processBytes).map(([name, bytes]) => [
          `${name} (+ workers)`,
          mib(bytes),
        ]),
      ],
    ),
    `OS processes seen: ${result.leaks.tracked}; left after shutdown: ${result.leaks.leftover.length}.`,
  ];
  return `${sections.join("\n\n")}\n`;
}
