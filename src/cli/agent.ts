/**
 * `patchflow agent`: a worker with the connector activities only (no workflows) on the host's own
 * task queue, `patchflow-host-<assetId>`, so the workflow's per-host calls run on that host.
 */
import { Worker } from '@temporalio/worker';
import { createAgentActivities } from '../connectors/agent/activities';
import { hostTaskQueue } from '../connectors/contract';
import { AssetSchema } from '../domain/asset';
import type { Logger } from '../logger';
import type { RunningService } from '../runtime/services';
import { connectWorker, type TemporalTarget } from '../temporal/connection';

export async function startAgent(options: {
  assetId: string;
  dryRun: boolean;
  temporal: TemporalTarget;
  logger: Logger;
}): Promise<RunningService & { done: Promise<void> }> {
  const { assetId, dryRun, logger } = options;
  const id = AssetSchema.shape.id.safeParse(assetId);
  if (!id.success) throw new Error(`--asset "${assetId}": ${id.error.issues[0]?.message}`);
  // reads os-release first: an unsupported host stops here, before connecting
  const activities = createAgentActivities({ assetId, dryRun, logger });
  if (!dryRun && process.getuid?.() !== 0) logger.warn('not running as root: installs, rollbacks and reboots will fail (or use --dry-run)');

  const taskQueue = hostTaskQueue(assetId);
  const connection = await connectWorker(options.temporal);
  let worker: Worker;
  try {
    worker = await Worker.create({
      connection,
      namespace: options.temporal.namespace,
      taskQueue,
      activities: { ...activities },
      // on SIGTERM, short calls finish; an install in progress is always waited for
      shutdownGraceTime: '10s',
    });
  } catch (err) {
    await connection.close();
    throw err;
  }
  const done = worker.run().finally(() => connection.close());
  logger.info({ taskQueue, dryRun }, 'agent polling');
  return {
    done,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
