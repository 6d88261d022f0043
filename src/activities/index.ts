import { ApplicationFailure, asyncLocalStorage } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import type { SigningKey } from '../signing/keys';
import { createSimulatedConnector } from '../connectors/simulated';
import { currentPolicy } from '../db/policy';
import { assessPatch, UnknownAdvisoriesError, type AssessmentInput, type AssessmentResult } from '../services/assessment';
import { deliver, type DeliveryReport, type Notification } from '../services/notifications';
import { activityNow } from './clock';
import { createDeploymentActivities } from './deployment';
import { reportingOutages } from './infrastructure';
import { createInventoryActivities } from './inventory';
import { createWorkOrderActivities } from './work-orders';

/** How often `assess` heartbeats (its heartbeat timeout is 10 s: src/workflows/patch/calls.ts). */
const ASSESS_HEARTBEAT_MS = 2_000;

export interface ActivityDeps {
  pool: Pool;
  logger: Logger;
}

export interface WorkerActivityDeps extends ActivityDeps {
  /** Signs the work orders sent to host agents (src/signing/keys.ts). */
  workOrderKey: SigningKey;
}

/**
 * The activities the worker registers, closed over their dependencies (the samples-typescript
 * "activities with dependency injection" pattern); an unreachable database fails any of them
 * as InfrastructureUnavailable (./infrastructure).
 */
export function createActivities({ pool, logger, workOrderKey }: WorkerActivityDeps) {
  return reportingOutages({
    // the simulated connector's per-host pipeline and the deployment records, on the shared queue
    ...createSimulatedConnector({ pool, logger }),
    ...createDeploymentActivities({ pool, logger }),
    ...createInventoryActivities({ pool, logger }),
    // signed orders for host agents, only for what the deployment records and an API approval allow
    ...createWorkOrderActivities({ pool, logger, workOrderKey }),

    /**
     * Assessment: match the advisories against the inventory, record targets, set priority and
     * the scope an approval covers. Idempotent; run again after approval to check the scope.
     */
    async assess(input: AssessmentInput): Promise<AssessmentResult> {
      // heartbeats while it works, so an attempt lost with its worker is retried within seconds
      const context = asyncLocalStorage.getStore();
      context?.heartbeat();
      const beating = context && setInterval(() => context.heartbeat(), ASSESS_HEARTBEAT_MS);
      try {
        // the activity's clock: the workflow's time on a time-skipping test server (./clock)
        return await assessPatch(pool, input, activityNow());
      } catch (err) {
        if (err instanceof UnknownAdvisoriesError) throw ApplicationFailure.nonRetryable(err.message, 'UnknownAdvisory');
        throw err;
      } finally {
        clearInterval(beating);
      }
    },

    /** Does nothing: the baseline `npm run bench:rollout` compares a host pipeline with. */
    async noop(): Promise<void> {},

    /** Tells the policy's webhooks; reports receivers that stayed down instead of failing. */
    async notify(notification: Notification): Promise<DeliveryReport> {
      const { policy } = await currentPolicy(pool);
      // the whole section: delivery needs the allowlist of internal hosts too
      return deliver(policy.notifications, notification, logger);
    },
  });
}

export type Activities = ReturnType<typeof createActivities>;
