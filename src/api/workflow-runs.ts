/** The histories of every run of a workflow id, oldest first: a patch that continued as new spans several runs. */
import type { Client } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';

export async function fetchEveryRun(client: Client, workflowId: string): Promise<History[]> {
  const runs = [await client.workflow.getHandle(workflowId).fetchHistory()];
  // each run's first event names the run it continues, back to the first
  for (;;) {
    const previous = runs[0]!.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
    if (!previous) return runs;
    runs.unshift(await client.workflow.getHandle(workflowId, previous).fetchHistory());
  }
}
