/** Writes `<date>.json`, `<date>.md`, `<date>-<experiment>.svg` and `latest.md` into the output directory. */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { BenchResult } from "../experiment.js";
import { progress } from "../progress.js";
import { renderMarkdown } from "./markdown.js";
import { renderSvg } from "./svg.js";

export async function writeReports(result: BenchResult, outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const base = path.join(outDir, result.date);
  await writeFile(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const chartOf = (name: string): string => `${result.date}-${name}.svg`;
  for (const experiment of result.experiments) {
    if (experiment.rows.length === 0) continue;
    await writeFile(path.join(outDir, chartOf(experiment.name)), renderSvg(experiment));
  }
  const markdown = renderMarkdown(result, chartOf);
  await writeFile(`${base}.md`, markdown);
  await writeFile(path.join(outDir, "latest.md"), markdown);
  progress(`wrote ${base}.json, ${base}.md, charts and ${path.join(outDir, "latest.md")}`);
}
