/**
 * Simulated time for integration tests: Temporal's time-skipping test server, provisioned once
 * per machine (src/runtime/time-skipping-server.ts) and started per test file by the SDK, with
 * the patch search attributes registered on it.
 */
import type { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { provisionTimeSkippingServer } from '../../src/runtime/time-skipping-server';
import { PATCH_SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes';

/** A time-skipping server of its own, time locked until the test sleeps or waits for a result. */
export async function timeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  const server = await provisionTimeSkippingServer({ progress: (line) => console.log(line) });
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: server.path } } });
  await registerSearchAttributes(env.connection);
  return env;
}

/**
 * The test server's operator service can add search attributes but not list them, so
 * `ensureSearchAttributes` (which lists first) does not work on it; a fresh server has none of
 * ours, so all are added.
 */
async function registerSearchAttributes(connection: Connection): Promise<void> {
  await connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(
      PATCH_SEARCH_ATTRIBUTES.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!]),
    ),
  });
}
