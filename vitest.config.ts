import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts", "sim/**/*.test.ts"],
    testTimeout: 60_000,
    pool: "forks",
    // vitest runs (cores - 1) files at a time: one on the 2-core CI machine, where many files wait on
    // serial links, child processes and real timeouts; two keep both cores busy.
    maxWorkers: 2,
  },
});
