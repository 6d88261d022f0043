import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Worker threads crash the Temporal SDK's native bridge; child processes do not.
    pool: 'forks',
    maxWorkers: 2,
    // One Temporal dev server, one PostgreSQL and one workflow bundle for the whole run.
    globalSetup: ['tests/global-setup.ts'],
    setupFiles: ['tests/setup.ts'],
    reporters: ['default', './tests/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
