/** Workflow code for tests/integration/agent.test.ts: calls a host agent the way the rollout does, on the host's own task queue. */
import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { AgentActivities } from '../../src/connectors/agent/activities';
import { hostTaskQueue } from '../../src/connectors/contract';
import type { HostWork } from '../../src/domain/deployment';

export type AgentCall = { activity: 'deployHost' | 'inspectHost'; work: HostWork };

/** Each call's answer, or `{error}` with the failure's message. */
export async function callAgent(assetId: string, calls: AgentCall[]): Promise<unknown[]> {
  const agent = proxyActivities<AgentActivities>({
    taskQueue: hostTaskQueue(assetId),
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: '10 seconds',
    retry: { maximumAttempts: 1 },
  });
  const results: unknown[] = [];
  for (const { activity, work } of calls) {
    try {
      results.push(await agent[activity](work));
    } catch (err) {
      results.push({ error: err instanceof ActivityFailure ? err.cause?.message : String(err) });
    }
  }
  return results;
}
