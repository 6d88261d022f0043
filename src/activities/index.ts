import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import { currentPolicy } from '../db/policy';
import { assessPatch, UnknownAdvisoriesError, type AssessmentInput, type AssessmentResult } from '../services/assessment';
import { deliver, type DeliveryReport, type Notification } from '../services/notifications';

export interface ActivityDeps {
  pool: Pool;
  logger: Logger;
}

/**
 * The activities the worker registers, closed over their dependencies (the samples-typescript
 * "activities with dependency injection" pattern).
 */
export function createActivities({ pool, logger }: ActivityDeps) {
  return {
    /**
     * Assessment: match the advisories against the inventory, record targets, set priority and
     * the scope an approval covers. Idempotent; run again after approval to check the scope.
     */
    async assess(input: AssessmentInput): Promise<AssessmentResult> {
      try {
        return await assessPatch(pool, input, new Date());
      } catch (err) {
        if (err instanceof UnknownAdvisoriesError) throw ApplicationFailure.nonRetryable(err.message, 'UnknownAdvisory');
        throw err;
      }
    },

    /** Tells the policy's webhooks; reports receivers that stayed down instead of failing. */
    async notify(notification: Notification): Promise<DeliveryReport> {
      const { policy } = await currentPolicy(pool);
      return deliver(policy.notifications.webhooks, notification, logger);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
