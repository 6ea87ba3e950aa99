import { defineConfig } from 'vitest/config';

// The ClickHouse engine holds one data directory per process, so every test file runs in a
// process of its own (forks), and servers under test run as child processes. The projects share
// one pool of two workers: unit, integration and browser have the same groupOrder, so maxWorkers
// bounds the whole run; `solo` runs after them.
const INTEGRATION = '**/*.int.test.ts';
const BROWSER = 'test/browser/**';
// Tests whose subject is how the process itself behaves under its own load (the heap watchdog
// measures the share of wall time in garbage collection, which other processes on the same two
// cores dilute): they run after the rest, one at a time, on an otherwise idle machine.
const SOLO = ['test/faults/heap-exhaustion.int.test.ts'];

export default defineConfig({
  // The service uses @promptline/instrumentation from its sources, as it runs (--conditions=@promptline/source);
  // the rest are Vitest's own defaults.
  ssr: { resolve: { conditions: ['@promptline/source', 'node', 'development|production'] } },
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // In CI every suite and test is listed (tree), so the log shows which backends each contract ran on.
    reporters: process.env.CI ? ['tree'] : ['default'],
    projects: [
      {
        extends: true,
        test: {
          // No server, store or Neo4j: the loop to run on every change (npm run test:unit).
          // In-process loopback fakes (a scripted registry, the OpenAI fake) are allowed.
          name: 'unit',
          include: ['test/**/*.test.ts', 'instrumentation/test/**/*.test.ts'],
          exclude: [INTEGRATION, BROWSER, '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          // Real stores (chdb, SQLite, Neo4j) or real `promptline serve` processes.
          name: 'integration',
          include: ['test/**/*.int.test.ts', 'instrumentation/test/**/*.int.test.ts'],
          exclude: [BROWSER, ...SOLO, '**/node_modules/**'],
          // Only this project needs the run's Neo4j, so the unit loop never starts one.
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'solo',
          include: SOLO,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          // The console's tests, driving Chromium from Node (docs/architecture.md). Empty until the
          // console lands: a project without files does not fail `npm test`, and `npm run
          // test:browser` passes --passWithNoTests.
          name: 'browser',
          include: [`${BROWSER}/*.test.ts`],
        },
      },
    ],
  },
});
