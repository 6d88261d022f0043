import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import type { Deadlines } from './deadlines';

/** What the API needs from the outside world; tests pass real ones pointed at their servers. */
export interface ApiDeps {
  pool: Pool;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  version: string;
  /** How long requests wait for PostgreSQL and Temporal (default: DEFAULT_DEADLINES). */
  deadlines?: Partial<Deadlines>;
}
