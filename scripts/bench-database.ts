/** The benchmarks' database: DATABASE_URL when it is set, else an embedded PostgreSQL of their own; migrated either way. */
import crypto from 'node:crypto';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { migrate } from '../src/db/migrate';
import type { Logger } from '../src/logger';
import { freePort } from '../src/runtime/ports';

/** `dir` holds the embedded server's data (the caller removes it); `stop` stops that server. */
export async function benchDatabase(dir: string, logger: Logger): Promise<{ url: string; stop: () => Promise<void> }> {
  let url = process.env.DATABASE_URL;
  let stop = async (): Promise<void> => undefined;
  if (!url) {
    const pg = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'pg'),
      port: await freePort(),
      database: `bench_${crypto.randomBytes(3).toString('hex')}`,
      logger,
      ephemeral: true,
    });
    url = pg.url;
    stop = () => pg.stop();
  }
  await migrate(url, logger);
  return { url, stop };
}
