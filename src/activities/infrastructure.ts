/**
 * Patchflow's own outages, told apart from the hosts' failures: an activity that could not reach
 * patchflow's database fails with type InfrastructureUnavailable (retryable), which the workflows
 * wait out (src/workflows/host-pipeline.ts) instead of counting it against the host.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { isDatabaseUnavailable } from '../db/unavailable';
import { INFRASTRUCTURE_UNAVAILABLE } from '../domain/deployment';

type ActivityFunctions = Record<string, (...args: never[]) => Promise<unknown>>;

/** The same activities, each reporting an unreachable database as InfrastructureUnavailable. */
export function reportingOutages<T extends ActivityFunctions>(activities: T): T {
  const wrapped = Object.entries(activities).map(([name, activity]) => [
    name,
    async (...args: never[]) => {
      try {
        return await activity(...args);
      } catch (err) {
        if (!isDatabaseUnavailable(err)) throw err;
        throw ApplicationFailure.create({
          type: INFRASTRUCTURE_UNAVAILABLE,
          message: `patchflow's database is unreachable: ${(err as Error).message}`,
          cause: err as Error,
        });
      }
    },
  ]);
  return Object.fromEntries(wrapped) as T;
}
