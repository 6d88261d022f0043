import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { AgentActivities } from '../connectors/agent/activities';
import { hostTaskQueue } from '../connectors/contract';

const { replaceAssetPackages } = proxyActivities<Pick<Activities, 'replaceAssetPackages'>>({ startToCloseTimeout: '2m' });

/**
 * Reads a host's installed packages through its agent (on `patchflow-host-<assetId>`) and makes
 * them the asset's inventory. A host whose agent does not answer within 15 minutes fails the run.
 */
export async function refreshHostInventory(assetId: string): Promise<{ assetId: string; packages: number }> {
  const host = proxyActivities<Pick<AgentActivities, 'reportInventory'>>({
    taskQueue: hostTaskQueue(assetId),
    startToCloseTimeout: '5m',
    scheduleToCloseTimeout: '15m',
  });
  const packages = await host.reportInventory();
  return replaceAssetPackages({ assetId, packages });
}
