import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import { clearStalePostmaster, clusterDirOf, createDatabaseIfMissing, prepareEmbeddedPostgres } from '../db/embedded-postgres';
import { migrate } from '../db/migrate';
import type { Logger } from '../logger';
import { resolveAdminToken } from '../runtime/admin-token';
import { loadSigningKey } from '../signing/keys';
import { startDevServer } from '../runtime/dev-server';
import { ProcessRegistry, stopLeftovers, UP_PROCESS } from '../runtime/leftovers';
import { portInUse } from '../runtime/ports';
import { readProc } from '../runtime/process';
import { startApi, startWorker } from '../runtime/services';
import { Shutdown } from '../runtime/shutdown';
import { Supervisor, type SupervisedChild } from '../runtime/supervisor';
import { provisionTemporalCli } from '../runtime/temporal-cli';
import type { TemporalTarget } from '../temporal/connection';

/**
 * `patchflow up` (= `npm start`): the whole stack in one process tree. A Temporal dev server
 * (SQLite under the data directory) unless TEMPORAL_ADDRESS is set, an embedded PostgreSQL
 * unless DATABASE_URL is set, migrations, the worker and the API.
 *
 * The dev server, PostgreSQL and the worker are supervised: one that dies is started again
 * (same data, same ports) after 1 s, 2 s, 4 s…; five exits within a minute stop `up` with exit
 * code 1. The servers are tied to this process (they stop when it dies, even on SIGKILL) and
 * recorded in `<dataDir>/processes.json`, so that the next `up` stops anything a crash left.
 */
export async function up(config: Config, logger: Logger): Promise<void> {
  const started = Date.now();
  const shutdown = new Shutdown(logger);
  shutdown.onSignals();
  fs.mkdirSync(config.dataDir, { recursive: true });
  const registry = ProcessRegistry.inDataDir(config.dataDir);

  let gaveUp = false;
  const giveUp = (err: Error) => {
    if (gaveUp) return;
    gaveUp = true;
    logger.fatal({ err }, `${err.message}; stopping patchflow up`);
    process.stderr.write(`patchflow: ${err.message}. Stopping everything (exit code 1); its last output is in the log above.\n`);
    void shutdown.run().finally(() => process.exit(1));
  };
  const supervise = <T extends SupervisedChild>(name: string, start: () => Promise<T>) =>
    new Supervisor<T>({ name, start, logger, isStopping: () => shutdown.isStopping, onGiveUp: giveUp });
  /** Records a server in processes.json while it runs. */
  const track = (name: string, stopSignal: NodeJS.Signals) => (child: ChildProcess, cmdline: string[]) => {
    const pid = child.pid!;
    registry.add(name, pid, cmdline, stopSignal);
    child.once('exit', () => registry.remove(pid));
  };

  try {
    // what a crashed `up` left running: the recorded processes, and a PostgreSQL still serving our data
    await stopLeftovers(registry, logger);
    const pgDataDir = path.join(config.dataDir, 'postgres');
    if (!config.databaseUrl) await clearStalePostmaster(clusterDirOf(pgDataDir), logger.child({ component: 'postgres' }));
    registry.add(UP_PROCESS, process.pid, readProc(process.pid)?.cmdline ?? process.argv);
    shutdown.add('process record', async () => registry.remove(process.pid));

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
      const devServer = supervise('Temporal dev server', () =>
        startDevServer({
          cliPath: cli.path,
          namespace: config.temporal.namespace,
          port: devServerPort,
          uiPort: devServerUiPort,
          dbFilename: path.join(config.dataDir, 'temporal.db'),
          detached: true,
          logger,
          onSpawn: track('temporal dev server', 'SIGTERM'),
        }),
      );
      const server = await devServer.start();
      shutdown.add('temporal dev server', () => devServer.stop());
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
      const cluster = await prepareEmbeddedPostgres({
        dataDir: pgDataDir,
        port: config.embeddedPostgresPort,
        database: 'patchflow',
        logger,
        onSpawn: track('postgres', 'SIGINT'),
      });
      const postgres = supervise('PostgreSQL', () => cluster.startServer());
      await postgres.start();
      shutdown.add('embedded postgres', () => postgres.stop());
      await createDatabaseIfMissing(cluster.adminUrl, 'patchflow');
      logger.info({ port: config.embeddedPostgresPort }, 'embedded PostgreSQL ready');
      databaseUrl = cluster.url;
    }

    await migrate(databaseUrl, logger);
    const admin = resolveAdminToken(config.dataDir, config.adminToken);
    const updateKey = loadSigningKey('updates', config.dataDir, config.signingKeys.updates);
    const workOrderKey = loadSigningKey('work-orders', config.dataDir, config.signingKeys['work-orders']);
    // The worker reconnects to Temporal and PostgreSQL by itself; should it stop all the same
    // (the SDK gives up on some calls after a long outage), it is started again like a server.
    const worker = supervise('worker', async () => {
      const running = await startWorker({ temporal, databaseUrl, workOrderKey, logger });
      return {
        exited: running.done.then(
          () => ({ code: null, signal: null, error: new Error('the worker stopped') }),
          (error: unknown) => ({ code: null, signal: null, error }),
        ),
        stop: () => running.stop().catch(() => undefined),
      };
    });
    await worker.start();
    shutdown.add('worker', () => worker.stop());
    // one machine's stack: loopback only, like the dev server (`patchflow api` listens on every interface)
    const api = await startApi({ temporal, databaseUrl, port: config.port, host: '127.0.0.1', adminToken: admin.token, updateKey, logger });
    shutdown.add('api', () => api.stop());

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const tokenNote = admin.source === 'env' ? '(from PATCHFLOW_ADMIN_TOKEN)' : `(kept in ${path.relative(process.cwd(), admin.file!)})`;
    // only a person at a terminal sees the token: a service manager would keep it in its journal
    const tokenLine = process.stdout.isTTY ? `${admin.token}   ${tokenNote}` : `${tokenNote.slice(1, -1)}; shown only on a terminal`;
    process.stdout.write(
      [
        '',
        `patchflow is up (${seconds}s)`,
        `  API              ${api.url}   (OpenAPI: ${api.url}/v1/openapi.json)`,
        `  Temporal Web UI  ${uiUrl ?? '(external Temporal server)'}`,
        `  Temporal         ${temporal.address}, namespace ${temporal.namespace}`,
        `  Admin token      ${tokenLine}`,
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
