/**
 * A patchflow worker in a process of its own, so a test can kill it outright (SIGKILL) in the
 * middle of a wave and start another. Configured by the environment the test passes:
 * TEMPORAL_ADDRESS, DATABASE_URL, TASK_QUEUE, WORKFLOW_BUNDLE, WORK_ORDER_KEY (hex).
 */
import { NativeConnection } from '@temporalio/worker';
import { Pool } from 'pg';
import { createLogger } from '../../src/logger';
import { signingKeyFrom } from '../../src/signing/keys';
import { createWorker } from '../../src/worker/worker';

async function main() {
  const env = process.env;
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS! });
  const pool = new Pool({ connectionString: env.DATABASE_URL!, max: 10 });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue: env.TASK_QUEUE!,
    pool,
    logger: createLogger('warn', 'worker-process'),
    workOrderKey: signingKeyFrom(env.WORK_ORDER_KEY!),
    workflowBundlePath: env.WORKFLOW_BUNDLE!,
  });
  process.stdout.write('worker running\n');
  await worker.run();
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
