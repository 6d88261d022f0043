import { Command } from 'commander';
import { Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig, type Config } from '../config';
import { createLogger, temporalLogger, type Logger } from '../logger';
import { migrate } from '../db/migrate';
import { resolveAdminToken } from '../runtime/admin-token';
import { loadSigningKey } from '../signing/keys';
import { startApi, startWorker } from '../runtime/services';
import { Shutdown } from '../runtime/shutdown';
import { provisionTemporalCli } from '../runtime/temporal-cli';
import type { TemporalTarget } from '../temporal/connection';
import { VERSION } from '../version';
import { startAgent } from './agent';
import { importFiles, type ImportKind } from './import';
import { up } from './up';

/** Reads the configuration and sets up logging the same way for every subcommand. */
function prepare(): { config: Config; logger: Logger } {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // Our Shutdown handles the signals, so the SDK must not stop workers on its own.
  Runtime.install({ logger: temporalLogger(logger), shutdownSignals: [] });
  return { config, logger };
}

function externalTemporal(config: Config): TemporalTarget {
  return { ...config.temporal, address: config.temporal.address ?? 'localhost:7233' };
}

function requireDatabaseUrl(config: Config): string {
  if (!config.databaseUrl) throw new ConfigError(['DATABASE_URL: required by this command (postgresql://user:pass@host:5432/db)']);
  return config.databaseUrl;
}

const program = new Command().name('patchflow').description('Patch management as durable Temporal workflows').version(VERSION);

program
  .command('up')
  .description('Run everything on this machine: Temporal dev server, embedded PostgreSQL, worker and API')
  .action(async () => {
    const { config, logger } = prepare();
    await up(config, logger);
  });

program
  .command('api')
  .description('Run the HTTP API (needs TEMPORAL_ADDRESS and DATABASE_URL); applies pending migrations first')
  .action(async () => {
    const { config, logger } = prepare();
    const shutdown = new Shutdown(logger);
    shutdown.onSignals();
    const admin = resolveAdminToken(config.dataDir, config.adminToken);
    const databaseUrl = requireDatabaseUrl(config);
    await migrate(databaseUrl, logger);
    const api = await startApi({
      temporal: externalTemporal(config),
      databaseUrl,
      port: config.port,
      host: '0.0.0.0',
      adminToken: admin.token,
      updateKey: loadSigningKey('updates', config.dataDir),
      logger,
    });
    shutdown.add('api', () => api.stop());
    if (admin.source === 'generated')
      logger.warn({ file: admin.file }, 'generated an admin token (set PATCHFLOW_ADMIN_TOKEN to choose one)');
  });

program
  .command('worker')
  .description('Run a worker on the patchflow task queue (needs TEMPORAL_ADDRESS and DATABASE_URL)')
  .action(async () => {
    const { config, logger } = prepare();
    const shutdown = new Shutdown(logger);
    shutdown.onSignals();
    const worker = await startWorker({
      temporal: externalTemporal(config),
      databaseUrl: requireDatabaseUrl(config),
      workOrderKey: loadSigningKey('work-orders', config.dataDir),
      logger,
    });
    shutdown.add('worker', () => worker.stop());
    await worker.done;
  });

program
  .command('agent')
  .description('Run the host agent of one asset on task queue patchflow-host-<asset> (needs TEMPORAL_ADDRESS): apt or dnf on this host')
  .requiredOption('--asset <id>', 'the id of this host in the inventory')
  .option('--dry-run', 'run only read-only commands and report what would change', false)
  .action(async (opts: { asset: string; dryRun: boolean }) => {
    const { config, logger } = prepare();
    const shutdown = new Shutdown(logger);
    shutdown.onSignals();
    const agent = await startAgent({ assetId: opts.asset, dryRun: opts.dryRun, temporal: externalTemporal(config), logger });
    shutdown.add('agent', () => agent.stop());
    await agent.done;
  });

program
  .command('migrate')
  .description('Apply pending database migrations (needs DATABASE_URL)')
  .action(async () => {
    const { config, logger } = prepare();
    const applied = await migrate(requireDatabaseUrl(config), logger);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'nothing to apply\n');
  });

program
  .command('import')
  .description('Import assets (JSON or CSV) or advisory feeds (a file or a folder of JSON files) through the API')
  .argument('<kind>', 'assets | osv | cve | kev')
  .argument('<path>', 'a file, or a folder for osv, cve and kev')
  .option('--api <url>', 'the API (default: $PATCHFLOW_API_URL, else http://127.0.0.1:$PORT)')
  .option('--token <token>', 'an operator token (default: $PATCHFLOW_TOKEN)')
  .action(async (kind: string, target: string, opts: { api?: string; token?: string }) => {
    if (!['assets', 'osv', 'cve', 'kev'].includes(kind)) throw new Error(`unknown kind "${kind}": assets, osv, cve or kev`);
    const config = loadConfig();
    const token = opts.token ?? process.env.PATCHFLOW_TOKEN;
    if (!token) throw new Error('an operator token is needed: --token or PATCHFLOW_TOKEN');
    const api = opts.api ?? process.env.PATCHFLOW_API_URL ?? `http://127.0.0.1:${config.port}`;
    await importFiles(kind as ImportKind, target, { api, token, print: (line) => process.stdout.write(`${line}\n`) });
  });

program
  .command('temporal-cli')
  .description('Find or build the Temporal CLI (see README) and print its path')
  .action(async () => {
    const cli = await provisionTemporalCli({ progress: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(`${cli.path}\n`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`patchflow: ${err instanceof Error ? err.message : String(err)}\n`);
  if (!(err instanceof ConfigError) && process.env.LOG_LEVEL === 'debug') console.error(err);
  process.exit(1);
});
