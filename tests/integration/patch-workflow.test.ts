import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchStatus } from '../../src/domain/patch-status';
import { statusQuery } from '../../src/workflows/definitions';
import { PatchAdvisories, PatchEmergency, PatchId, PatchPhase, PatchPriority } from '../../src/workflows/search-attributes';
import { saveHistory } from '../helpers/histories';
import { startTestStack, type TestStack } from '../helpers/servers';
import { readJson } from '../helpers/fixtures';

let stack: TestStack;
let operator: string;
let auditor: string;

beforeAll(async () => {
  stack = await startTestStack();
  operator = await stack.user('oscar', ['operator']);
  auditor = await stack.user('ada', ['auditor']);
  const notices = ['USN-6859-1', 'USN-6986-1', 'USN-7604-1'].map((id) => readJson('osv', 'ubuntu', `${id}.json`));
  expect((await stack.call('POST', '/v1/feeds/osv', { token: operator, body: notices })).status).toBe(200);
  const host = {
    id: 'jammy-1',
    hostname: 'jammy-1.example',
    environment: 'production',
    os: { name: 'ubuntu', version: '22.04' },
    criticality: 'high',
    exposure: 'internet',
    packages: [
      { name: 'openssh-server', version: '1:8.9p1-3ubuntu0.7', source: 'openssh' },
      { name: 'libssl3', version: '3.0.2-0ubuntu1.15', source: 'openssl' },
      { name: 'sudo', version: '1.9.9-1ubuntu2.4', source: 'sudo' },
    ],
  };
  expect((await stack.call('PUT', '/v1/assets', { token: operator, body: { assets: [host] } })).status).toBe(200);
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
      body: {
        advisoryIds: ['USN-6859-1', 'USN-6986-1'],
        emergency: true,
        title: 'regreSSHion and OpenSSL',
        settings: { reviewTimeout: '2s' },
      },
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
      outcome: null,
      settings: { reviewTimeout: '2s' },
    });
    expect(['assessment', 'peer-review']).toContain(status.phase);

    const handle = stack.client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    expect(description.type).toBe('patchLifecycle');
    expect(description.taskQueue).toBe(stack.taskQueue);
    const attrs = description.typedSearchAttributes;
    expect(attrs.get(PatchId)).toBe(id);
    expect(attrs.get(PatchEmergency)).toBe(true);
    expect(attrs.get(PatchAdvisories)).toEqual(['USN-6859-1', 'USN-6986-1']);
    // assessment moves the patch on and sets its priority
    const assessed = await eventually(
      () => handle.query(statusQuery),
      (s) => s.phase === 'peer-review',
    );
    expect(assessed).toMatchObject({ phase: 'peer-review', state: 'waiting', targets: { production: 1 } });
    expect(assessed.cves).toEqual(['CVE-2024-6119', 'CVE-2024-6387']);
    const assessedAttrs = (await handle.describe()).typedSearchAttributes;
    expect(assessedAttrs.get(PatchPhase)).toBe('peer-review');
    expect(assessedAttrs.get(PatchPriority)).toBe(assessed.priority);
    expect((await handle.query(statusQuery)).requestedBy).toBe('oscar');

    // the visibility store finds it by the patch attributes, as `temporal workflow list --query` does
    const found = await eventually(
      async () => {
        const ids: string[] = [];
        for await (const wf of stack.client.workflow.list({ query: `PatchId = '${id}' AND PatchPhase = 'peer-review'` }))
          ids.push(wf.workflowId);
        return ids;
      },
      (ids) => ids.length > 0,
    );
    expect(found).toEqual([workflowId]);
  });

  it('records the requester from the token, not from the body', async () => {
    const created = await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: ['USN-6859-1'] } });
    const status = await stack.client.workflow.getHandle(created.body.workflowId).query(statusQuery);
    expect(status.requestedBy).toBe('oscar');
    expect(status.emergency).toBe(false);
    expect(status.title).toBe('Remediate USN-6859-1');
  });

  it('closes the patch as cancelled when its workflow is cancelled, and the history replays', async () => {
    const created = await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: ['USN-7604-1'] } });
    const handle = stack.client.workflow.getHandle(created.body.workflowId);
    await handle.cancel();
    const final = await handle.result();
    expect(final).toMatchObject({ state: 'done', outcome: 'cancelled' });
    const res = await stack.call('GET', `/v1/patches/${created.body.id}`, { token: auditor });
    expect(res.body).toMatchObject({ state: 'done', outcome: 'cancelled' });
    await saveHistory(handle, 'patch-cancelled');
  });
});
