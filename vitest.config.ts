import { defineConfig } from 'vitest/config';

// The ClickHouse engine holds one data directory per process, so every test file runs in a
// process of its own (forks), and servers under test run as child processes.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'instrumentation/test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // In CI every suite and test is listed (tree), so the log shows which backends each contract ran on.
    reporters: process.env.CI ? ['tree'] : ['default'],
  },
});
