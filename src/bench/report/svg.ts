/**
 * One hand-written SVG chart per experiment: grouped bars (ours, baseline) of the medians per
 * row, a whisker to the p99, the ratio above each group; log scale when values span decades.
 */
import type { ExperimentResult } from "../experiment.js";
import { escapeXml, formatNumber, formatRatio } from "./format.js";

type ResultRow = ExperimentResult["rows"][number];

const WIDTH = 760;
const HEIGHT = 400;
const BOX = { left: 80, right: 20, top: 88, bottom: 84 };
const PLOT_W = WIDTH - BOX.left - BOX.right;
const PLOT_H = HEIGHT - BOX.top - BOX.bottom;
const COLORS = { ours: "#4e79a7", baseline: "#f28e2b" };

interface Scale {
  log: boolean;
  lo: number;
  hi: number;
  y(value: number): number;
  ticks: number[];
}

export function renderSvg(e: ExperimentResult): string {
  const scale = scaleFor(e.rows);
  const body = [
    title(e, scale),
    grid(scale),
    ...e.rows.map((r, i) => group(r, i, e.rows.length, scale)),
  ];
  body.push(ratioCaption(), legend());
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

function valuesOf(rows: ResultRow[]): number[] {
  return rows
    .flatMap((r) => [r.ours.median, r.ours.p99, r.baseline.median, r.baseline.p99])
    .filter((v) => v > 0);
}

function scaleFor(rows: ResultRow[]): Scale {
  const values = valuesOf(rows);
  const min = Math.min(...values, Infinity);
  const max = Math.max(...values, 0);
  if (values.length > 0 && max / min >= 30) return logScale(min, max);
  return linearScale(max > 0 ? max : 1);
}

function logScale(min: number, max: number): Scale {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)));
  const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
  const y = (v: number): number =>
    BOX.top + PLOT_H * (1 - (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo));
  return { log: true, lo: 10 ** lo, hi: 10 ** hi, y, ticks };
}

function linearScale(max: number): Scale {
  const step = niceStep(max / 5);
  const hi = Math.ceil(max / step) * step;
  const ticks = Array.from({ length: Math.round(hi / step) + 1 }, (_, i) => i * step);
  return { log: false, lo: 0, hi, y: (v) => BOX.top + PLOT_H * (1 - v / hi), ticks };
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

function title(e: ExperimentResult, scale: Scale): string {
  const units = [...new Set(e.rows.map((r) => r.unit ?? e.unit))].join(" / ");
  const unit = `${units}${scale.log ? ", log scale" : ""}${e.higherIsBetter ? ", higher is better" : ""}`;
  return [
    `<text x="${BOX.left}" y="26" font-size="15" font-weight="bold">${escapeXml(`${e.name}: ${e.title}`)}</text>`,
    `<text x="${BOX.left}" y="54" fill="#555">median (bars) and p99 (whiskers), ${escapeXml(unit)}</text>`,
  ].join("\n");
}

function grid(scale: Scale): string {
  const lines = scale.ticks.map((t) => {
    const y = scale.y(t).toFixed(1);
    return (
      `<line x1="${BOX.left}" x2="${WIDTH - BOX.right}" y1="${y}" y2="${y}" stroke="#ddd"/>` +
      `<text x="${BOX.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatNumber(t)}</text>`
    );
  });
  const bottom = BOX.top + PLOT_H;
  lines.push(
    `<line x1="${BOX.left}" x2="${WIDTH - BOX.right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`,
  );
  return lines.join("\n");
}

function group(r: ResultRow, index: number, count: number, scale: Scale): string {
  const width = PLOT_W / count;
  const x = BOX.left + index * width;
  const bar = Math.min(40, width * 0.35);
  const center = x + width / 2;
  const parts = [
    bars(center - bar, bar, r.ours, COLORS.ours, scale),
    bars(center, bar, r.baseline, COLORS.baseline, scale),
    `<text x="${center}" y="${BOX.top - 16}" text-anchor="middle" fill="#333">${formatRatio(r.ratio)}</text>`,
    label(r.label, center, count),
  ];
  return parts.join("\n");
}

function bars(
  x: number,
  width: number,
  m: { median: number; p99: number },
  color: string,
  scale: Scale,
): string {
  const bottom = BOX.top + PLOT_H;
  const top = scale.y(m.median);
  const whisker = scale.y(m.p99);
  const mid = x + width / 2;
  return [
    `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${width.toFixed(1)}" height="${Math.max(0, bottom - top).toFixed(1)}" fill="${color}"><title>median ${formatNumber(m.median)}, p99 ${formatNumber(m.p99)}</title></rect>`,
    `<line x1="${mid.toFixed(1)}" x2="${mid.toFixed(1)}" y1="${top.toFixed(1)}" y2="${whisker.toFixed(1)}" stroke="#222"/>`,
    `<line x1="${(mid - 4).toFixed(1)}" x2="${(mid + 4).toFixed(1)}" y1="${whisker.toFixed(1)}" y2="${whisker.toFixed(1)}" stroke="#222"/>`,
  ].join("\n");
}

function ratioCaption(): string {
  return `<text x="${BOX.left - 6}" y="${BOX.top - 16}" text-anchor="end" fill="#333">ours/base</text>`;
}

function label(text: string, center: number, count: number): string {
  const y = BOX.top + PLOT_H + 16;
  const rotate =
    count > 6
      ? ` transform="rotate(-35 ${center.toFixed(1)} ${y})" text-anchor="end"`
      : ' text-anchor="middle"';
  return `<text x="${center.toFixed(1)}" y="${y}"${rotate}>${escapeXml(text)}</text>`;
}

function legend(): string {
  const x = WIDTH - BOX.right - 190;
  return [
    `<rect x="${x}" y="44" width="12" height="12" fill="${COLORS.ours}"/>`,
    `<text x="${x + 16}" y="54">ours (PraaS-TS)</text>`,
    `<rect x="${x + 110}" y="44" width="12" height="12" fill="${COLORS.baseline}"/>`,
    `<text x="${x + 126}" y="54">baseline</text>`,
  ].join("\n");
}
