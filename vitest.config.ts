import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/subprocess-coverage.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // `npm test` measures coverage; scripts/coverage-report.mjs then adds what ran in the
    // processes the tests started (see test/global-setup.ts) and checks the threshold.
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      reporter: ["text-summary", "json"],
      reportOnFailure: true,
      reportsDirectory: "coverage",
    },
  },
});
