import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Worker threads crash the Temporal SDK's native bridge; child processes do not.
    pool: 'forks',
    maxWorkers: 2,
    setupFiles: ['tests/setup.ts'],
    reporters: ['default', './tests/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      // Pure logic: no server, no database (`npm run test:unit`).
      { extends: true, test: { name: 'unit', include: ['tests/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          // One Temporal dev server, one PostgreSQL and one workflow bundle for the whole run.
          globalSetup: ['tests/global-setup.ts'],
        },
      },
    ],
  },
});
