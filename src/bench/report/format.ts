/** Number formatting shared by the Markdown and SVG writers. */

/** Three significant figures or so: 12,345 / 123 / 12.3 / 1.23. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return "–";
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString("en-US");
  if (Number.isInteger(value)) return String(value); // counts: "20", not "20.0"
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "–";
}

const PARAM_NAMES: Record<string, string> = {
  size: "size",
  messages: "calls",
  elements: "elements",
  inflight: "in flight",
  mib: "state",
};

/** The first column's header, from the parameters that vary. */
export function paramHeader(params: Record<string, number> | undefined): string {
  const keys = Object.keys(params ?? {});
  return keys.length === 0 ? "case" : keys.map((key) => PARAM_NAMES[key] ?? key).join(" × ");
}

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c,
  );
}
