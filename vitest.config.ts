import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // concurrent tests (the sandbox runs) each start a whole product; more at once starve 2 cores
    maxConcurrency: 3,
  },
});
