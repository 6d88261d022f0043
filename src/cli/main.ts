import fs from 'node:fs';
import { Command } from 'commander';
import { Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig, type Config } from '../config';
import { createLogger, temporalLogger, type Logger } from '../logger';
import { migrate } from '../db/migrate';
import { adminTokenFile, resolveAdminToken } from '../runtime/admin-token';
import { loadSigningKey } from '../signing/keys';
import { startApi, startWorker } from '../runtime/services';
import { Shutdown } from '../runtime/shutdown';
import { provisionTemporalCli } from '../runtime/temporal-cli';
import type { TemporalTarget } from '../temporal/connection';
import { VERSION } from '../version';
import { ORCHESTRATOR_KEY_ENV, startAgent } from './agent';
import * as access from './access';
import { importFiles, type ImportKind } from './import';
import { showKey } from './keys';
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
      updateKey: loadSigningKey('updates', config.dataDir, config.signingKeys.updates),
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
      workOrderKey: loadSigningKey('work-orders', config.dataDir, config.signingKeys['work-orders']),
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
  .option(
    '--orchestrator-key <hex>',
    `the orchestrator's work-order public key, from patchflow keys show (default: $${ORCHESTRATOR_KEY_ENV})`,
  )
  .option('--journal <file>', 'the install journal (default /var/lib/patchflow-agent/journal.jsonl; in dry-run a new temporary file)')
  .action(async (opts: { asset: string; dryRun: boolean; orchestratorKey?: string; journal?: string }) => {
    const { config, logger } = prepare();
    const shutdown = new Shutdown(logger);
    shutdown.onSignals();
    const agent = await startAgent({
      assetId: opts.asset,
      dryRun: opts.dryRun,
      orchestratorKey: opts.orchestratorKey ?? config.orchestratorKey,
      journal: opts.journal,
      temporal: externalTemporal(config),
      logger,
    });
    shutdown.add('agent', () => agent.stop());
    await agent.done;
  });

program
  .command('keys')
  .description("The orchestrator's signing keys")
  .command('show')
  .description('Print the public key of a signing key: work-orders (default; what host agents trust) or updates')
  .argument('[name]', 'work-orders | updates', 'work-orders')
  .action((name: string) => {
    const config = loadConfig();
    process.stdout.write(`${showKey(config.dataDir, name, config.signingKeys)}\n`);
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

/** Where the API is: --api, else $PATCHFLOW_API_URL, else this machine's port. */
const apiUrl = (config: Config, opts: { api?: string }) => opts.api ?? process.env.PATCHFLOW_API_URL ?? `http://127.0.0.1:${config.port}`;

/**
 * The token of the user and token verbs: --token, else $PATCHFLOW_TOKEN (skipped for the admin
 * token's rotation, which is about the bootstrap admin's), else $PATCHFLOW_ADMIN_TOKEN, else the
 * data directory's admin-token (on the machine that runs `patchflow up`).
 */
function accessToken(config: Config, opts: { token?: string }, rotating = false): { token: string; source: 'option' | 'env' | 'file' } {
  if (opts.token) return { token: opts.token, source: 'option' };
  if (!rotating && process.env.PATCHFLOW_TOKEN) return { token: process.env.PATCHFLOW_TOKEN, source: 'option' };
  if (config.adminToken) return { token: config.adminToken, source: 'env' };
  const file = adminTokenFile(config.dataDir);
  if (fs.existsSync(file)) return { token: fs.readFileSync(file, 'utf8').trim(), source: 'file' };
  throw new Error(`an admin token is needed: --token, PATCHFLOW_TOKEN, PATCHFLOW_ADMIN_TOKEN or ${file}`);
}

interface AccessCliOptions {
  api?: string;
  token?: string;
}

/** The API and the caller of a user or token verb; tokens go to stdout only, remarks to stderr. */
function accessOptions(opts: AccessCliOptions, rotating = false) {
  const config = loadConfig();
  const { token, source } = accessToken(config, opts, rotating);
  return {
    config,
    source,
    options: {
      api: apiUrl(config, opts),
      token,
      print: (line: string) => process.stdout.write(`${line}\n`),
      note: (line: string) => process.stderr.write(`${line}\n`),
    },
  };
}

/** The options every user and token verb takes. */
const withApi = (command: Command) =>
  command
    .option('--api <url>', 'the API (default: $PATCHFLOW_API_URL, else http://127.0.0.1:$PORT)')
    .option('--token <token>', "an admin's token (default: $PATCHFLOW_TOKEN, $PATCHFLOW_ADMIN_TOKEN, else <dataDir>/admin-token)");

interface TermsCliOptions extends AccessCliOptions {
  label?: string;
  expiresIn?: string;
  expiresAt?: string;
}

const withTerms = (command: Command) =>
  withApi(command)
    .option('--label <text>', 'what the token is for')
    .option('--expires-in <duration>', 'its life, such as 30d (default: the policy access.tokenLifetime; at most access.maxTokenLifetime)')
    .option('--expires-at <time>', 'when it expires, an ISO 8601 time with an offset');

const termsOf = (opts: TermsCliOptions): access.TokenTerms => ({ label: opts.label, expiresIn: opts.expiresIn, expiresAt: opts.expiresAt });

const tokens = program.command('tokens').description("Issue, list and revoke users' bearer tokens through the API (admin)");
withTerms(
  tokens.command('issue').description('Issue another token to a user (printed once, on stdout)').argument('<user>', 'name or id'),
).action(async (user: string, opts: TermsCliOptions) => {
  await access.issueToken(accessOptions(opts).options, user, termsOf(opts));
});
withApi(tokens.command('list').description("A user's tokens (never their values)").argument('<user>', 'name or id')).action(
  async (user: string, opts: AccessCliOptions) => {
    await access.listTokens(accessOptions(opts).options, user);
  },
);
withApi(tokens.command('revoke').description('Revoke a token; it stops working at once').argument('<id>', 'the token id (t_…)')).action(
  async (id: string, opts: AccessCliOptions) => {
    await access.revokeToken(accessOptions(opts).options, id);
  },
);

const users = program.command('users').description('List, disable and enable users through the API (admin)');
withApi(users.command('list').description('Every user, their roles and whether they are disabled')).action(
  async (opts: AccessCliOptions) => {
    await access.listUsers(accessOptions(opts).options);
  },
);
for (const verb of ['disable', 'enable'] as const) {
  withApi(
    users
      .command(verb)
      .description(verb === 'disable' ? 'Disable a user: their tokens stop working at once' : 'Enable a disabled user again')
      .argument('<user>', 'name or id'),
  ).action(async (user: string, opts: AccessCliOptions) => {
    await access.setUserDisabled(accessOptions(opts).options, user, verb === 'disable');
  });
}

const adminToken = program.command('admin-token').description("The bootstrap admin's token");
withTerms(
  adminToken
    .command('rotate')
    .description(
      'Issue the bootstrap admin a new token, write it to <dataDir>/admin-token (when the old one came from there) and revoke the old one; no restart needed',
    ),
).action(async (opts: TermsCliOptions) => {
  const { config, source, options } = accessOptions(opts, true);
  await access.rotateAdminToken({ ...options, dataDir: config.dataDir, source }, termsOf(opts));
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
