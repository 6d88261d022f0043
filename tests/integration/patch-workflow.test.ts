import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchStatus } from '../../src/api/schemas';
import { statusQuery } from '../../src/workflows/definitions';
import { PatchAdvisories, PatchEmergency, PatchId, PatchPhase, PatchPriority } from '../../src/workflows/search-attributes';
import { saveHistory } from '../helpers/histories';
import { startTestStack, type TestStack } from '../helpers/servers';

let stack: TestStack;
let operator: string;
let auditor: string;

beforeAll(async () => {
  stack = await startTestStack();
  operator = await stack.user('oscar', ['operator']);
  auditor = await stack.user('ada', ['auditor']);
});
afterAll(() => stack?.stop());

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('POST /v1/patches starts patchLifecycle', () => {
  it('starts workflow patch-<id> with its search attributes and answers GET from the workflow query', async () => {
    const created = await stack.call('POST', '/v1/patches', {
      token: operator,
      body: { advisoryIds: ['USN-6859-1', 'USN-6986-1'], emergency: true, title: 'regreSSHion and OpenSSL', settings: { reviewTimeout: '2s' } },
    });
    expect(created.status).toBe(201);
    const { id, workflowId } = created.body;
    expect(workflowId).toBe(`patch-${id}`);

    const res = await stack.call('GET', `/v1/patches/${id}`, { token: auditor });
    expect(res.status).toBe(200);
    const status = PatchStatus.parse(res.body);
    expect(status).toMatchObject({
      id,
      workflowId,
      title: 'regreSSHion and OpenSSL',
      advisoryIds: ['USN-6859-1', 'USN-6986-1'],
      emergency: true,
      requestedBy: 'oscar',
      phase: 'assessment',
      state: 'running',
      outcome: null,
      settings: { reviewTimeout: '2s' },
    });

    const handle = stack.client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    expect(description.type).toBe('patchLifecycle');
    expect(description.taskQueue).toBe(stack.taskQueue);
    const attrs = description.typedSearchAttributes;
    expect(attrs.get(PatchId)).toBe(id);
    expect(attrs.get(PatchPhase)).toBe('assessment');
    expect(attrs.get(PatchEmergency)).toBe(true);
    expect(attrs.get(PatchAdvisories)).toEqual(['USN-6859-1', 'USN-6986-1']);
    expect(attrs.get(PatchPriority)).toBeUndefined();
    expect((await handle.query(statusQuery)).requestedBy).toBe('oscar');

    // the visibility store finds it by the patch attributes, as `temporal workflow list --query` does
    const found = await eventually(
      async () => {
        const ids: string[] = [];
        for await (const wf of stack.client.workflow.list({ query: `PatchId = '${id}' AND PatchPhase = 'assessment'` })) ids.push(wf.workflowId);
        return ids;
      },
      (ids) => ids.length > 0,
    );
    expect(found).toEqual([workflowId]);
  });

  it('records the requester from the token, not from the body', async () => {
    const created = await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: ['CVE-2024-6387'] } });
    const status = await stack.client.workflow.getHandle(created.body.workflowId).query(statusQuery);
    expect(status.requestedBy).toBe('oscar');
    expect(status.emergency).toBe(false);
    expect(status.title).toBe('Remediate CVE-2024-6387');
  });

  it('closes the patch as cancelled when its workflow is cancelled, and the history replays', async () => {
    const created = await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: ['USN-7604-1'] } });
    const handle = stack.client.workflow.getHandle(created.body.workflowId);
    await handle.cancel();
    const final = await handle.result();
    expect(final).toMatchObject({ phase: 'assessment', state: 'done', outcome: 'cancelled' });
    const res = await stack.call('GET', `/v1/patches/${created.body.id}`, { token: auditor });
    expect(res.body).toMatchObject({ state: 'done', outcome: 'cancelled' });
    await saveHistory(handle, 'patch-cancelled-in-assessment');
  });
});
