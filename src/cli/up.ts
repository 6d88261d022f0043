import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { migrate } from '../db/migrate';
import type { Logger } from '../logger';
import { resolveAdminToken } from '../runtime/admin-token';
import { startDevServer } from '../runtime/dev-server';
import { portInUse } from '../runtime/ports';
import { startApi, startWorker } from '../runtime/services';
import { Shutdown } from '../runtime/shutdown';
import { provisionTemporalCli } from '../runtime/temporal-cli';
import type { TemporalTarget } from '../temporal/connection';

/**
 * `patchflow up` (= `npm start`): the whole stack in one process tree. A Temporal dev server
 * (SQLite under the data directory) unless TEMPORAL_ADDRESS is set, an embedded PostgreSQL
 * unless DATABASE_URL is set, migrations, the worker and the API.
 */
export async function up(config: Config, logger: Logger): Promise<void> {
  const started = Date.now();
  const shutdown = new Shutdown(logger);
  shutdown.onSignals();
  fs.mkdirSync(config.dataDir, { recursive: true });

  try {
    let temporal: TemporalTarget;
    let uiUrl: string | undefined;
    if (config.temporal.address) {
      temporal = { ...config.temporal, address: config.temporal.address };
    } else {
      const { devServerPort, devServerUiPort } = config.temporal;
      for (const port of [devServerPort, devServerUiPort]) {
        if (await portInUse(port)) {
          throw new Error(
            `Port ${port} is taken, so the Temporal dev server cannot start. Stop what uses it, or set ` +
              'PATCHFLOW_TEMPORAL_PORT / PATCHFLOW_TEMPORAL_UI_PORT, or TEMPORAL_ADDRESS for a server you already run.',
          );
        }
      }
      const cli = await provisionTemporalCli({ progress: (line) => logger.info(line) });
      logger.info({ path: cli.path, source: cli.source }, 'Temporal CLI');
      const server = await startDevServer({
        cliPath: cli.path,
        namespace: config.temporal.namespace,
        port: devServerPort,
        uiPort: devServerUiPort,
        dbFilename: path.join(config.dataDir, 'temporal.db'),
        detached: true,
        logger,
      });
      shutdown.add('temporal dev server', () => server.stop());
      temporal = { address: server.address, namespace: server.namespace };
      uiUrl = server.uiUrl;
    }

    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      if (await portInUse(config.embeddedPostgresPort)) {
        throw new Error(
          `Port ${config.embeddedPostgresPort} is taken, so the embedded PostgreSQL cannot start. ` +
            'Set PATCHFLOW_PG_PORT to a free port, or DATABASE_URL for a server you already run.',
        );
      }
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, 'postgres'),
        port: config.embeddedPostgresPort,
        database: 'patchflow',
        logger,
      });
      shutdown.add('embedded postgres', () => pg.stop());
      databaseUrl = pg.url;
    }

    await migrate(databaseUrl, logger);
    const admin = resolveAdminToken(config.dataDir, config.adminToken);
    const worker = await startWorker({ temporal, databaseUrl, logger });
    shutdown.add('worker', () => worker.stop());
    // one machine's stack: loopback only, like the dev server (`patchflow api` listens on every interface)
    const api = await startApi({ temporal, databaseUrl, port: config.port, host: '127.0.0.1', adminToken: admin.token, logger });
    shutdown.add('api', () => api.stop());

    worker.done.catch(async (err) => {
      logger.error({ err }, 'worker failed; stopping');
      await shutdown.run();
      process.exit(1);
    });

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const tokenNote = admin.source === 'env' ? '(from PATCHFLOW_ADMIN_TOKEN)' : `(kept in ${path.relative(process.cwd(), admin.file!)})`;
    process.stdout.write(
      [
        '',
        `patchflow is up (${seconds}s)`,
        `  API              ${api.url}   (OpenAPI: ${api.url}/v1/openapi.json)`,
        `  Temporal Web UI  ${uiUrl ?? '(external Temporal server)'}`,
        `  Temporal         ${temporal.address}, namespace ${temporal.namespace}`,
        `  Admin token      ${admin.token}   ${tokenNote}`,
        `  Data directory   ${config.dataDir}`,
        '',
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    );
  } catch (err) {
    await shutdown.run();
    throw err;
  }
}
