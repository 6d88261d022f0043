/**
 * `patchflow agent`: a worker with the connector activities only (no workflows) on the host's own
 * task queue, `patchflow-host-<assetId>`, so the workflow's per-host calls run on that host. It
 * obeys only work orders signed by the orchestrator's key (`--orchestrator-key`, printed by
 * `patchflow keys show`) and keeps its install journal in `--journal`.
 */
import { Worker } from '@temporalio/worker';
import { createAgentActivities } from '../connectors/agent/activities';
import { defaultJournalFile } from '../connectors/agent/journal';
import { hostTaskQueue } from '../connectors/contract';
import { AssetSchema } from '../domain/asset';
import type { Logger } from '../logger';
import type { RunningService } from '../runtime/services';
import { isPublicKey } from '../signing/ed25519';
import { connectWorker, type TemporalTarget } from '../temporal/connection';

/** The environment variable that may give the orchestrator's key instead of `--orchestrator-key`. */
export const ORCHESTRATOR_KEY_ENV = 'PATCHFLOW_ORCHESTRATOR_KEY';

export async function startAgent(options: {
  assetId: string;
  dryRun: boolean;
  /** The orchestrator's work-order public key, hex (`patchflow keys show`). */
  orchestratorKey: string | undefined;
  /** The install journal; default /var/lib/patchflow-agent/journal.jsonl, in dry-run a new temporary file. */
  journal?: string;
  temporal: TemporalTarget;
  logger: Logger;
}): Promise<RunningService & { done: Promise<void> }> {
  const { assetId, dryRun, logger } = options;
  const id = AssetSchema.shape.id.safeParse(assetId);
  if (!id.success) throw new Error(`--asset "${assetId}": ${id.error.issues[0]?.message}`);
  const orchestratorKey = options.orchestratorKey?.trim().toLowerCase();
  if (!orchestratorKey)
    throw new Error(
      `the orchestrator's public key is required: --orchestrator-key or ${ORCHESTRATOR_KEY_ENV} (patchflow keys show prints it)`,
    );
  if (!isPublicKey(orchestratorKey)) throw new Error('--orchestrator-key: an Ed25519 public key is 64 hex digits');
  const journalFile = options.journal ?? defaultJournalFile(dryRun);
  // reads os-release first: an unsupported host stops here, before connecting
  const activities = createAgentActivities({ assetId, dryRun, orchestratorKey, journalFile, logger });
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
  logger.info({ taskQueue, dryRun, orchestratorKey, journal: journalFile }, 'agent polling');
  return {
    done,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
