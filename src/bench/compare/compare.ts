/**
 * `npm run bench -- --compare`: each row's ratio beside the same row's ratio in an earlier
 * result, flagging the rows whose ratio moved the wrong way by more than a tolerance. Pure: the
 * results come in, the verdicts and their text go out.
 */

/** What a comparison reads of a result file (any schema-1 `<date>.json`). */
export interface ComparableResult {
  date: string;
  mode: string;
  /** Where it ran (older results may lack it). */
  machine?: { cpu?: string; cores?: number };
  experiments: {
    name: string;
    baseline: string;
    higherIsBetter: boolean;
    error?: string;
    skipped?: string;
    rows: { label: string; params: Record<string, number>; ratio: number }[];
  }[];
}

export type Verdict = "worse" | "better" | "same" | "new" | "baseline changed" | "failed";

export interface ComparedRow {
  experiment: string;
  label: string;
  /** This run's ratio (NaN for a failed experiment). */
  ratio: number;
  /** The earlier result's ratio of the same row, when it had one. */
  before?: number;
  verdict: Verdict;
}

type ResultExperiment = ComparableResult["experiments"][number];
type ResultRow = ResultExperiment["rows"][number];

/** Default tolerance: a ratio 20% worse than before is flagged. */
export const DEFAULT_TOLERANCE = 0.2;

/** Every row of `current` (skipped experiments left out) against `before`. */
export function compareResults(
  before: ComparableResult,
  current: ComparableResult,
  tolerance = DEFAULT_TOLERANCE,
): ComparedRow[] {
  const compared: ComparedRow[] = [];
  for (const experiment of current.experiments) {
    if (experiment.skipped !== undefined) continue;
    const earlier = before.experiments.find((e) => e.name === experiment.name);
    compared.push(...compareExperiment(experiment, earlier, tolerance));
  }
  return compared;
}

function compareExperiment(
  now: ResultExperiment,
  earlier: ResultExperiment | undefined,
  tolerance: number,
): ComparedRow[] {
  if (now.error !== undefined)
    return [{ experiment: now.name, label: "(failed)", ratio: NaN, verdict: "failed" }];
  return now.rows.map((row) => {
    const base = { experiment: now.name, label: row.label, ratio: row.ratio };
    const match =
      earlier && earlier.skipped === undefined ? matchRow(row, now, earlier) : undefined;
    if (earlier === undefined || match === undefined) return { ...base, verdict: "new" };
    const verdict =
      earlier.baseline !== now.baseline
        ? "baseline changed"
        : judge(row.ratio, match.ratio, now.higherIsBetter, tolerance);
    return { ...base, before: match.ratio, verdict };
  });
}

/**
 * The same row before: the one with the same label, else the only one with the same parameter
 * names when there is only one such row on each side (e.g. density's "N active", N varying).
 */
function matchRow(
  row: ResultRow,
  now: ResultExperiment,
  earlier: ResultExperiment,
): ResultRow | undefined {
  const byLabel = earlier.rows.find((r) => r.label === row.label);
  if (byLabel !== undefined) return byLabel;
  const keysOf = (r: ResultRow): string => Object.keys(r.params).sort().join(",");
  const alike = (rows: ResultRow[]): ResultRow[] => rows.filter((r) => keysOf(r) === keysOf(row));
  const [mine, theirs] = [alike(now.rows), alike(earlier.rows)];
  return mine.length === 1 && theirs.length === 1 ? theirs[0] : undefined;
}

/** How the ratio moved: worse by more than the tolerance, better by as much, or the same. */
export function judge(
  now: number,
  before: number,
  higherIsBetter: boolean,
  tolerance: number,
): Verdict {
  if (!(now > 0 && before > 0)) return "new";
  const worsening = higherIsBetter ? before / now : now / before;
  if (worsening > 1 + tolerance) return "worse";
  if (worsening < 1 / (1 + tolerance)) return "better";
  return "same";
}

/** The rows as a text table, then a line naming the rows that got worse. */
export function renderComparison(
  rows: ComparedRow[],
  source: { name: string; result: ComparableResult },
  current: ComparableResult,
  tolerance = DEFAULT_TOLERANCE,
): string {
  const percent = Math.round(tolerance * 100);
  const lines = [
    `Ratios (ours ÷ baseline) compared with ${source.name} (${source.result.mode}, ${source.result.date}); WORSE: moved the wrong way by more than ${percent}%`,
  ];
  if (source.result.mode !== current.mode)
    lines.push(
      `(that run was --${source.result.mode}, this one --${current.mode}: sizes and repetitions differ)`,
    );
  const machines = [source.result, current].map(machineText);
  if (machines[0] !== undefined && machines[1] !== undefined && machines[0] !== machines[1])
    lines.push(
      `(that run was on ${machines[0]}, this one on ${machines[1]}: the baselines differ between machines, so ratios may move with no change of ours)`,
    );
  lines.push(...textTable(rows));
  const worse = rows.filter((r) => r.verdict === "worse");
  lines.push(
    worse.length === 0
      ? `No row got worse by more than ${percent}%.`
      : `${worse.length} row(s) worse by more than ${percent}%: ${worse.map((r) => `${r.experiment} ${r.label}`).join("; ")}`,
  );
  return `${lines.join("\n")}\n`;
}

function machineText(result: ComparableResult): string | undefined {
  const { cpu, cores } = result.machine ?? {};
  return cpu === undefined ? undefined : `${cpu}, ${cores ?? "?"} cores`;
}

const ratioText = (ratio: number | undefined): string =>
  ratio !== undefined && Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "–";

function changeText(row: ComparedRow): string {
  if (row.before === undefined || !(row.before > 0) || !Number.isFinite(row.ratio)) return "";
  const change = Math.round((row.ratio / row.before - 1) * 100);
  return `${change > 0 ? "+" : ""}${change}%`;
}

function textTable(rows: ComparedRow[]): string[] {
  const head = ["experiment", "row", "now", "before", "change", "verdict"];
  const body = rows.map((r) => [
    r.experiment,
    r.label,
    ratioText(r.ratio),
    ratioText(r.before),
    changeText(r),
    r.verdict === "worse" ? "WORSE" : r.verdict,
  ]);
  const widths = head.map((_, i) =>
    Math.max(...[head, ...body].map((cells) => (cells[i] ?? "").length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(head), ...body.map(line)];
}
