import type { Pool } from 'pg';
import type { Logger } from '../logger';

export interface ActivityDeps {
  pool: Pool;
  logger: Logger;
}

/**
 * The activities the worker registers, closed over their dependencies (the samples-typescript
 * "activities with dependency injection" pattern). Phases add theirs here.
 */
export function createActivities(_deps: ActivityDeps) {
  return {};
}

export type Activities = ReturnType<typeof createActivities>;
