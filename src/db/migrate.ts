import path from 'node:path';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../logger';

/** The SQL migrations shipped with patchflow (repository root `migrations/`). */
export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

/** Applies every pending migration; safe to run at each start and from several processes. */
export async function migrate(databaseUrl: string, logger: Logger): Promise<string[]> {
  const log = logger.child({ component: 'migrations' });
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: Infinity,
    singleTransaction: true,
    log: (message) => log.debug(message),
  });
  if (applied.length > 0) log.info({ applied: applied.map((m) => m.name) }, 'migrations applied');
  return applied.map((m) => m.name);
}
