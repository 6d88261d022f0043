import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import type { SigningKey } from '../signing/keys';
import type { Deadlines } from './deadlines';

/** What the API needs from the outside world; tests pass real ones pointed at their servers. */
export interface ApiDeps {
  pool: Pool;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  version: string;
  /** Signs every update the API sends to a patch workflow (src/signing/keys.ts). */
  updateKey: SigningKey;
  /** How long requests wait for PostgreSQL and Temporal (default: DEFAULT_DEADLINES). */
  deadlines?: Partial<Deadlines>;
}
