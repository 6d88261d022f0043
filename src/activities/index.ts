import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import { assessPatch, UnknownAdvisoriesError, type AssessmentResult } from '../services/assessment';

export interface ActivityDeps {
  pool: Pool;
  logger: Logger;
}

/**
 * The activities the worker registers, closed over their dependencies (the samples-typescript
 * "activities with dependency injection" pattern).
 */
export function createActivities({ pool }: ActivityDeps) {
  return {
    /** Assessment: match the advisories against the inventory, record targets, set priority. Idempotent. */
    async assess(input: { patchId: string; advisoryIds: string[] }): Promise<AssessmentResult> {
      try {
        return await assessPatch(pool, input.patchId, input.advisoryIds, new Date());
      } catch (err) {
        if (err instanceof UnknownAdvisoriesError) throw ApplicationFailure.nonRetryable(err.message, 'UnknownAdvisory');
        throw err;
      }
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
