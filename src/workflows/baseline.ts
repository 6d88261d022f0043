/**
 * The yardstick of `npm run bench:rollout`: `count` no-op activities, `concurrency` in flight,
 * continuing as new like a wave does. What a worker and server manage with no work in the
 * activities is the ceiling a host pipeline is compared with.
 */
import { continueAsNew, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { HOSTS_PER_RUN } from './host-wave';

const { noop } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });

export async function activityBaseline(count: number, concurrency: number): Promise<void> {
  const here = Math.min(count, HOSTS_PER_RUN);
  let next = 0;
  const lane = async () => {
    while (next < here) {
      next++;
      await noop();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, here) }, lane));
  if (count > here) await continueAsNew<typeof activityBaseline>(count - here, concurrency);
}
