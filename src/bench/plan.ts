/** How much to measure: sizes, repetitions and durations per mode (full, --quick, --smoke). */
export type Mode = "full" | "quick" | "smoke";

export const KIB = 1024;
export const MIB = 1024 * 1024;

export interface Plan {
  mode: Mode;
  /** Payload sizes for the invocation and messaging experiments. */
  sizes: number[];
  /** Value sizes for the state experiment. */
  stateSizes: number[];
  /** Timed repetitions for one payload size (warm-up is a tenth of it, at least 3). */
  iterations(size: number): number;
  /**
   * The first size's warm-up on each side of a sweep lasts at least this long: every process
   * on our path (SDK, runtime, workers) has to reach its optimized code, which here takes a
   * few thousand round trips, not the hundred a tenth of the iterations gives.
   */
  warmupMs: number;
  reductionMessages: number[];
  reductionElements: number[];
  reductionRepetitions(messages: number): number;
  throughputInflight: number[];
  throughputMs: number;
  coldStarts: number;
  swapMiB: number[];
  swapRepetitions(mib: number): number;
  /** Concurrent writers of the durable-put experiment; puts per writer. */
  durableWriters: number[];
  durablePutsPerWriter(writers: number): number;
  /** State a killed process recovers: keys of `recoveryValueBytes` each. */
  recoveryKeys: number;
  recoveryValueBytes: number;
  recoveryRepetitions: number;
  /** Resumes of a swapped 1 MiB process, each to its first result. */
  resumeRepetitions: number;
  /** Density: active processes to reach (unless memory or a failure stops it first). */
  densityActive: number;
  /** Density: swapped processes to list (the active ones swapped, then copies of one). */
  densitySwapped: number;
  /** Density: swapped processes resumed (and invoked) to check they are resumable. */
  densityResumes: number;
  /** Density: timed listings of all swapped processes (and as many of the baseline). */
  densityListings: number;
}

const ALL_SIZES = [10, KIB, 100 * KIB, MIB, 5 * MIB];

function scaled(full: number, divisor: number, floor: number): (size: number) => number {
  return (size) => {
    const base =
      size <= KIB ? full : size <= 100 * KIB ? full / 3 : size <= MIB ? full / 10 : full / 20;
    return Math.max(floor, Math.round(base / divisor));
  };
}

const FULL: Plan = {
  mode: "full",
  sizes: ALL_SIZES,
  stateSizes: ALL_SIZES.slice(0, 4),
  iterations: scaled(1000, 1, 50),
  warmupMs: 3000,
  reductionMessages: [1, 10, 100],
  reductionElements: [10, 100, 1000, 10_000, 100_000],
  reductionRepetitions: (messages) => (messages >= 100 ? 20 : 50),
  throughputInflight: [1, 16, 64],
  throughputMs: 3000,
  coldStarts: 10,
  swapMiB: [1, 10, 100],
  swapRepetitions: (mib) => (mib >= 100 ? 5 : 10),
  durableWriters: [1, 64],
  // 64 writers put in batches of 64: 200 rounds are 200 syncs, enough for a median.
  durablePutsPerWriter: (writers) => (writers === 1 ? 1000 : 200),
  recoveryKeys: 10_000,
  recoveryValueBytes: Math.ceil((100 * MIB) / 10_000),
  recoveryRepetitions: 5,
  resumeRepetitions: 10,
  densityActive: 200,
  densitySwapped: 10_000,
  densityResumes: 10,
  densityListings: 20,
};

const QUICK: Plan = {
  ...FULL,
  mode: "quick",
  iterations: scaled(1000, 5, 10),
  warmupMs: 1000,
  reductionElements: [10, 1000, 100_000],
  reductionRepetitions: (messages) => (messages >= 100 ? 3 : 10),
  throughputMs: 1000,
  coldStarts: 5,
  swapMiB: [1, 10],
  swapRepetitions: () => 3,
  durablePutsPerWriter: (writers) => (writers === 1 ? 200 : 40),
  recoveryRepetitions: 2,
  resumeRepetitions: 3,
  densityActive: 20,
  densitySwapped: 200,
  densityResumes: 4,
  densityListings: 10,
};

/** Just enough to prove that every experiment runs and reports. */
const SMOKE: Plan = {
  mode: "smoke",
  sizes: [KIB],
  stateSizes: [KIB],
  iterations: () => 5,
  warmupMs: 0,
  reductionMessages: [2],
  reductionElements: [100],
  reductionRepetitions: () => 2,
  throughputInflight: [4],
  throughputMs: 200,
  coldStarts: 1,
  swapMiB: [1],
  swapRepetitions: () => 1,
  durableWriters: [1, 4],
  durablePutsPerWriter: () => 5,
  recoveryKeys: 100,
  recoveryValueBytes: KIB,
  recoveryRepetitions: 1,
  resumeRepetitions: 1,
  densityActive: 2,
  densitySwapped: 5,
  densityResumes: 2,
  densityListings: 2,
};

/** The plan of `mode`; `densityMax` (the --density-max flag) caps the active processes. */
export function planFor(mode: Mode, densityMax?: number): Plan {
  const plan = mode === "full" ? FULL : mode === "quick" ? QUICK : SMOKE;
  if (densityMax === undefined) return plan;
  return { ...plan, densityActive: Math.min(plan.densityActive, densityMax) };
}

export function warmupFor(iterations: number): number {
  return Math.max(3, Math.round(iterations / 10));
}

/** "10 B", "1 KiB", "5 MiB". */
export function sizeLabel(bytes: number): string {
  if (bytes >= MIB && bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes >= KIB && bytes % KIB === 0) return `${bytes / KIB} KiB`;
  return `${bytes} B`;
}
