import { defineConfig } from "vitest/config";

// End-to-end tests: a real `sluice server` and Debian's chromium, driven by
// playwright-core. One file, run in order.
export default defineConfig({
  test: {
    environment: "node",
    include: ["e2e/**/*.e2e.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
