/** `npm run soak -- [--duration SECONDS] [--short] [--out DIR] [--durability memory|log]`. */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";

export type Durability = "memory" | "log";

export interface SoakOptions {
  readonly durationMs: number;
  readonly short: boolean;
  readonly outDir: string;
  readonly durability: Durability;
  /** Cloud processes under load. */
  readonly processes: number;
  /** Pause between two injected faults. */
  readonly faultEveryMs: number;
  /** Fuzzed frames to send over the run (data plane and control link together). */
  readonly fuzzFrames: number;
  /** `praas up --invocation-timeout`: short in the short mode, so no wait outlasts the run. */
  readonly invocationTimeoutMs: number;
  /** The environment `praas up` gets (the caller's, without PRAAS_* settings). */
  readonly childEnv: Readonly<NodeJS.ProcessEnv>;
}

/** The repository root (dist/soak/ → ../..). */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const SHORT_DURATION_S = 15;
const FULL_DURATION_S = 600;

function positiveSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidArgumentError("expected a positive number of seconds");
  }
  return seconds;
}

interface Flags {
  duration?: number;
  short: boolean;
  out?: string;
  durability: Durability;
}

export function parseCli(argv: string[], env: NodeJS.ProcessEnv): SoakOptions {
  const program = new Command("soak")
    .description("fault injection against a real `praas up` with Redis; checks invariants")
    .option("--duration <seconds>", "how long the load and the faults run", positiveSeconds)
    .option("--short", "a short run (under 60 s with startup), as in `npm test`", false)
    .option("--out <dir>", "where to write the results (default: soak/results)")
    .addOption(
      new Option("--durability <kind>", "durability of the processes it creates")
        .choices(["memory", "log"])
        .default("log"),
    )
    .exitOverride()
    .configureOutput({ writeOut: (text) => process.stderr.write(text) });
  program.parse(argv, { from: "user" });
  return resolveOptions(program.opts<Flags>(), env);
}

export function resolveOptions(flags: Flags, env: NodeJS.ProcessEnv): SoakOptions {
  const seconds = flags.duration ?? (flags.short ? SHORT_DURATION_S : FULL_DURATION_S);
  const durationMs = Math.round(seconds * 1000);
  return Object.freeze({
    durationMs,
    short: flags.short,
    outDir: path.resolve(flags.out ?? path.join(PACKAGE_ROOT, "soak", "results")),
    durability: flags.durability,
    processes: flags.short ? 3 : 6,
    invocationTimeoutMs: flags.short ? 10_000 : 60_000,
    faultEveryMs: flags.short ? 300 : 4_000,
    // 10^6 in a full 600 s run, at the same pace for any other duration.
    fuzzFrames: Math.max(20_000, Math.ceil((1_200_000 * durationMs) / (FULL_DURATION_S * 1000))),
    childEnv: Object.freeze(withoutPraaSSettings(env)),
  });
}

/** A developer's PRAAS_URL or PRAAS_API_TOKEN must not change what the soak's `praas up` does. */
function withoutPraaSSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(
      ([key]) => !key.startsWith("PRAAS_") || key.startsWith("PRAAS_TEST_"),
    ),
  );
}
