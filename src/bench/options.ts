/** `npm run bench -- [--quick | --smoke] [--only a,b] [--out DIR]`. */
import path from "node:path";
import { parseArgs } from "node:util";
import { PACKAGE_ROOT } from "./apps.js";
import { EXPERIMENT_NAMES } from "./experiments/index.js";
import type { Mode } from "./plan.js";

export interface CliOptions {
  mode: Mode;
  only?: string[];
  outDir: string;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]
  --quick          fewer sizes and repetitions (a full pass in under 2 minutes)
  --smoke          one size, a handful of repetitions (for the harness's own test)
  --only a,b       run only these experiments: ${EXPERIMENT_NAMES.join(", ")}
  --out DIR        where to write the results (default: bench/results)
  --help           this text
`;

export function parseCli(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      smoke: { type: "boolean", default: false },
      only: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  const mode: Mode = values.smoke ? "smoke" : values.quick ? "quick" : "full";
  const outDir = path.resolve(values.out ?? path.join(PACKAGE_ROOT, "bench", "results"));
  const only = values.only
    ?.split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  return { mode, outDir, help: values.help, ...(only ? { only } : {}) };
}
