/** The activities the patch workflow calls (proxies), with their timeouts and retries (docs/temporal.md). */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { DeploymentActivities } from '../../activities/deployment-contract';

// it heartbeats: an attempt lost with its worker (a crash, a kill) is tried again after 10 s, not 5 minutes
export const { assess } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { maximumInterval: '1 minute' },
});

// A receiver that is down must never hold a patch up: a few attempts, then it is reported.
export const { notify } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

export const deployment = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumInterval: '30 seconds' },
});
