/** The Markdown report: machine, a summary of ratios and quality bars, one table per experiment. */
import { machineLine } from "../machine.js";
import type { BenchResult, ExperimentResult } from "../experiment.js";
import { formatNumber, formatRatio, paramHeader } from "./format.js";

type ResultRow = ExperimentResult["rows"][number];

export function renderMarkdown(result: BenchResult, chartOf: (name: string) => string): string {
  const parts = [header(result), summary(result)];
  for (const experiment of result.experiments)
    parts.push(section(experiment, chartOf(experiment.name)));
  return `${parts.join("\n\n")}\n`;
}

function header(result: BenchResult): string {
  return [
    `# PraaS-TS benchmarks, ${result.date} (${result.mode})`,
    `- Machine: ${machineLine(result.machine)}`,
    `- Command: \`${result.command}\`; ${result.seconds} s in total; started ${result.startedAt}`,
    "- Ours and the baseline run in the same run on the same machine. Ratio = ours ÷ baseline " +
      "(medians): below 1 we are faster, except for throughput (higher is better there).",
  ].join("\n");
}

function summary(result: BenchResult): string {
  const lines = [
    "## Summary",
    "",
    "| experiment | ratio per row (ours ÷ baseline) | quality bar |",
    "| --- | --- | --- |",
  ];
  for (const e of result.experiments) {
    const ratios = e.skipped
      ? `skipped: ${e.skipped}`
      : e.error
        ? "**failed**"
        : e.rows.map((r) => `${r.label}: ${formatRatio(r.ratio)}`).join("; ");
    lines.push(`| ${e.name} | ${ratios} | ${goalSummary(e.rows)} |`);
  }
  return lines.join("\n");
}

function goalSummary(rows: ResultRow[]): string {
  const checked = rows.filter((r) => r.goal);
  if (checked.length === 0) return "–";
  const missed = checked.filter((r) => !r.goal?.met).map((r) => `${r.label} (${r.goal?.target})`);
  return missed.length === 0
    ? `met (${checked[0]?.goal?.target})`
    : `**missed**: ${missed.join(", ")}`;
}

function section(e: ExperimentResult, chart: string): string {
  const lines = [`## ${e.name}: ${e.title}`, "", `- Ours: ${e.ours}`, `- Baseline: ${e.baseline}`];
  for (const note of e.notes) lines.push(`- ${note}`);
  lines.push("");
  if (e.error) lines.push("```", e.error, "```");
  if (e.skipped) lines.push(`Skipped on this machine: ${e.skipped}.`);
  if (e.rows.length > 0) lines.push(...table(e), "", `![${e.name}](${chart})`);
  return lines.join("\n");
}

function extraKeys(rows: ResultRow[]): string[] {
  return [...new Set(rows.flatMap((r) => Object.keys(r.extra ?? {})))];
}

function table(e: ExperimentResult): string[] {
  const extras = extraKeys(e.rows);
  const hasGoal = e.rows.some((r) => r.goal);
  const mixed = hasRowUnits(e);
  const u = mixed ? "" : ` (${e.unit})`;
  const head = [caseHeader(e.rows), ...(mixed ? ["unit"] : [])];
  head.push(`ours median${u}`, `ours p99${u}`, `baseline median${u}`, `baseline p99${u}`);
  head.push("ours/baseline", ...extras);
  if (hasGoal) head.push("quality bar");
  const lines = [row(head), row(head.map(() => "---"))];
  for (const r of e.rows) {
    const unit = mixed ? [r.unit ?? e.unit] : [];
    lines.push(row(cells(r, extras, hasGoal, unit)));
  }
  return lines;
}

/** Rows in units of their own (density: MiB and ms) get a unit column. */
function hasRowUnits(e: ExperimentResult): boolean {
  return e.rows.some((r) => r.unit !== undefined && r.unit !== e.unit);
}

/** The parameters' name, when every row has the same ones. */
function caseHeader(rows: ResultRow[]): string {
  const keys = new Set(rows.map((r) => Object.keys(r.params).join(",")));
  return keys.size > 1 ? "case" : paramHeader(rows[0]?.params);
}

function cells(r: ResultRow, extras: string[], hasGoal: boolean, unit: string[]): string[] {
  const values = [r.ours.median, r.ours.p99, r.baseline.median, r.baseline.p99].map(formatNumber);
  const out = [r.label, ...unit, ...values, formatRatio(r.ratio)];
  out.push(...extras.map((key) => formatNumber(r.extra?.[key] ?? Number.NaN)));
  if (hasGoal) out.push(r.goal ? `${r.goal.target} ${r.goal.met ? "✓" : "✗ missed"}` : "");
  return out;
}

function row(cellsOfRow: string[]): string {
  return `| ${cellsOfRow.join(" | ")} |`;
}
