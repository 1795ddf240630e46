/**
 * `npm run bench -- [--quick | --smoke] [--only a,b] [--out DIR] [--density-max N]
 * [--compare [FILE]] [--tolerance PCT]`, or `--compare-only BEFORE AFTER` (no run).
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { PACKAGE_ROOT } from "./apps.js";
import { DEFAULT_TOLERANCE } from "./compare/compare.js";
import { EXPERIMENT_NAMES } from "./experiments/index.js";
import type { Mode } from "./plan.js";

export interface CliOptions {
  mode: Mode;
  only?: string[];
  outDir: string;
  help: boolean;
  densityMax?: number;
  /** Compare with an earlier result after the run: this file, or (no file) the last committed. */
  compare?: { file?: string };
  /** Compare these two result files and do not run. */
  compareOnly?: [string, string];
  /** How much worse (a fraction) a ratio may get before the comparison flags it. */
  tolerance: number;
}

export const USAGE = `usage: npm run bench -- [options]
  --quick            fewer sizes and repetitions (a full pass in a few minutes)
  --smoke            one size, a handful of repetitions (for the harness's own test)
  --only a,b         run only these experiments: ${EXPERIMENT_NAMES.join(", ")}
  --out DIR          where to write the results (default: bench/results)
  --density-max N    create at most N active processes in the density experiment
  --compare [FILE]   after the run, print each ratio beside FILE's (default: the newest
                     committed bench/results/<date>.json) and flag rows that got worse
  --tolerance PCT    how much worse a ratio may get before --compare flags it (default ${DEFAULT_TOLERANCE * 100})
  --compare-only BEFORE AFTER
                     compare two result files without running anything
  --help             this text
`;

export function parseCli(argv: string[]): CliOptions {
  const { rest, compare } = takeCompare(argv);
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      quick: { type: "boolean", default: false },
      smoke: { type: "boolean", default: false },
      only: { type: "string" },
      out: { type: "string" },
      "density-max": { type: "string" },
      tolerance: { type: "string" },
      "compare-only": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const mode: Mode = values.smoke ? "smoke" : values.quick ? "quick" : "full";
  const outDir = path.resolve(values.out ?? path.join(PACKAGE_ROOT, "bench", "results"));
  const only = values.only
    ?.split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  const densityMax = optionalNumber(
    values["density-max"],
    "--density-max",
    (n) => Number.isInteger(n) && n >= 1,
  );
  const tolerance = optionalNumber(values.tolerance, "--tolerance", (n) => n >= 0);
  return {
    mode,
    outDir,
    help: values.help,
    tolerance: tolerance === undefined ? DEFAULT_TOLERANCE : tolerance / 100,
    ...(only ? { only } : {}),
    ...(densityMax === undefined ? {} : { densityMax }),
    ...(compare ? { compare } : {}),
    ...compareOnly(values["compare-only"], positionals),
  };
}

/** `--compare` takes an optional file: `--compare=FILE`, or the next argument unless an option. */
function takeCompare(argv: string[]): { rest: string[]; compare?: { file?: string } } {
  const at = argv.findIndex((arg) => arg === "--compare" || arg.startsWith("--compare="));
  const flag = argv[at];
  if (flag === undefined) return { rest: argv };
  if (flag.startsWith("--compare="))
    return { rest: argv.toSpliced(at, 1), compare: { file: flag.slice("--compare=".length) } };
  const next = argv[at + 1];
  if (next === undefined || next.startsWith("-"))
    return { rest: argv.toSpliced(at, 1), compare: {} };
  return { rest: argv.toSpliced(at, 2), compare: { file: next } };
}

function compareOnly(on: boolean, positionals: string[]): { compareOnly?: [string, string] } {
  const [before, after, ...more] = positionals;
  if (!on && positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]}`);
  if (!on) return {};
  if (before === undefined || after === undefined || more.length > 0)
    throw new Error("--compare-only takes two result files: BEFORE AFTER");
  return { compareOnly: [before, after] };
}

function optionalNumber(
  text: string | undefined,
  flag: string,
  valid: (n: number) => boolean,
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0 || !valid(value))
    throw new Error(`${flag}: ${JSON.stringify(text)} is not allowed (see below)`);
  return value;
}
