import { defineConfig } from "vitest/config";

/** Files that run after all the others, with the machine to themselves (see the projects below). */
const ALONE = ["test/e2e/examples.test.ts"];

const shared = {
  testTimeout: 30_000,
  hookTimeout: 60_000,
  // concurrent tests (the sandbox runs) each start a whole product; more at once starve 2 cores
  maxConcurrency: 3,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: "suite",
          include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
          exclude: ALONE,
          sequence: { groupOrder: 0 },
        },
      },
      {
        // The examples push about 600 requests a second through one process for minutes: beside other
        // files, both would be starved of the 2 cores and run into their deadlines.
        test: { ...shared, name: "alone", include: ALONE, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
