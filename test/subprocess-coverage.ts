/**
 * Runs in every vitest worker before its tests. Under `--coverage` (see global-setup.ts), the
 * processes this worker starts record V8 coverage; the worker itself started without it, so it
 * does not write a profile of its own (vitest measures it in-process).
 */
const dir = process.env.PRAAS_TEST_V8_COVERAGE;
if (dir) process.env.NODE_V8_COVERAGE = dir;
