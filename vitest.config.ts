import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/subprocess-coverage.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // `npm run test:coverage` (and .ci/run): no thresholds yet; scripts/coverage-report.mjs
    // prints the per-file table of src/control-plane and src/runtime from the json-summary.
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      reporter: ["text-summary", "json"],
      reportsDirectory: "coverage",
    },
  },
});
