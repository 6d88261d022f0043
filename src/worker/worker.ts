import fs from 'node:fs';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities, type WorkerActivityDeps } from '../activities';
import { DEFAULT_BUNDLE_PATH, WORKFLOWS_PATH } from './bundle';

export interface WorkerOptions extends WorkerActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** A prebuilt workflow bundle; without one the worker bundles the workflows at start. */
  workflowBundlePath?: string;
}

export function createWorker(options: WorkerOptions): Promise<Worker> {
  const bundlePath = options.workflowBundlePath ?? (fs.existsSync(DEFAULT_BUNDLE_PATH) ? DEFAULT_BUNDLE_PATH : undefined);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities({ pool: options.pool, logger: options.logger, workOrderKey: options.workOrderKey }),
  });
}
