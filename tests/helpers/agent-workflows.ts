/** Workflow code for tests/integration/agent.test.ts: calls a host agent the way the rollout does, on the host's own task queue. */
import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { AgentActivities } from '../../src/connectors/agent/activities';
import { hostTaskQueue } from '../../src/connectors/contract';
import type { HostWork } from '../../src/domain/deployment';
import type { SignedWorkOrder } from '../../src/domain/work-order';
import { deployment, rollbackHost, runPipeline } from '../../src/workflows/host-pipeline';

export type AgentCall = {
  activity: 'deployHost' | 'rebootHost' | 'postCheckHost' | 'rollbackHost' | 'inspectHost';
  work: HostWork;
  /** Sent beside the work when given. */
  order?: SignedWorkOrder;
};

/** Each call's answer, or `{error}` with the failure's message. */
export async function callAgent(assetId: string, calls: AgentCall[]): Promise<unknown[]> {
  const agent = proxyActivities<AgentActivities>({
    taskQueue: hostTaskQueue(assetId),
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: '10 seconds',
    retry: { maximumAttempts: 1 },
  });
  const results: unknown[] = [];
  for (const { activity, work, order } of calls) {
    try {
      if (activity === 'inspectHost') results.push(await agent.inspectHost(work));
      else results.push(await (order ? agent[activity](work, order) : agent[activity](work)));
    } catch (err) {
      results.push({ error: err instanceof ActivityFailure ? err.cause?.message : String(err) });
    }
  }
  return results;
}

/**
 * The rollout's own per-host pipeline on one agent host (orders from the real signing activity,
 * records in the real tables), then the operator's rollback of what it changed.
 */
export async function pipelineOnAgent(work: HostWork): Promise<{ deployed: string; rolledBack: string[] }> {
  const host = { assetId: work.assetId, connector: 'agent' as const };
  const deployed = await runPipeline(host, work);
  const changed = await deployment.changedHosts({ patchId: work.patchId, limit: 10 });
  const rolledBack: string[] = [];
  for (const h of changed) rolledBack.push((await rollbackHost(h, h)).status);
  return { deployed, rolledBack };
}
