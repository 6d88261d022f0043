/**
 * Starts the real servers once per test run: a Temporal dev server from the provisioned CLI and
 * an embedded PostgreSQL, both on free loopback ports, and builds the workflow bundle once.
 * Test files reach them through `inject(...)` (see tests/helpers/servers.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { createLogger } from '../src/logger';
import { startDevServer } from '../src/runtime/dev-server';
import { freePort } from '../src/runtime/ports';
import { provisionTemporalCli } from '../src/runtime/temporal-cli';
import { writeWorkflowBundle } from '../src/worker/bundle';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCliPath: string;
    postgresAdminUrl: string;
    workflowBundlePath: string;
  }
}

export default async function setup(project: TestProject) {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'test-servers');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-test-'));
  fs.chmodSync(tmp, 0o755); // the embedded server runs as the `postgres` user when we are root
  const cli = await provisionTemporalCli({ progress: (line) => console.log(line) });

  const [temporal, postgres, bundle] = await Promise.all([
    freePort().then((port) => startDevServer({ cliPath: cli.path, namespace: 'default', port, logger })),
    freePort().then((port) =>
      startEmbeddedPostgres({ dataDir: path.join(tmp, 'postgres'), port, database: 'patchflow', logger, ephemeral: true }),
    ),
    writeWorkflowBundle(path.join(tmp, 'workflow-bundle.js')),
  ]);

  project.provide('temporalAddress', temporal.address);
  project.provide('temporalCliPath', cli.path);
  project.provide('postgresAdminUrl', postgres.adminUrl);
  project.provide('workflowBundlePath', bundle);

  return async () => {
    await Promise.all([temporal.stop(), postgres.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  };
}
