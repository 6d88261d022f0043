/**
 * `GET /v1/patches` (Temporal visibility) and `GET /v1/patches/:id/history` (the workflow
 * history) on live patches. The dev server is shared by every test file, so this file opens its
 * patches on advisories of its own (real notices of fixtures/feeds under fresh ids) and filters
 * by them; the comparison with `temporal workflow list` covers the whole namespace.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATES } from '../../src/domain/patch';
import { startTestStack, type TestStack } from '../helpers/servers';
import { readJson } from '../helpers/fixtures';
import { eventually, listedBothWays } from '../helpers/visibility';

let stack: TestStack;
let operator: string;
let auditor: string;
let reviewer: string;
const suffix = crypto.randomBytes(3).toString('hex');
/** USN-6859-1 (regreSSHion) under an id only this file uses: affects the host below. */
const SSH = `PFV-6859-${suffix}`;
/** DSA-3029-1 (nginx on Debian 7) likewise: affects nothing here. */
const NGINX = `PFV-3029-${suffix}`;
const patches: Record<'emergency' | 'scheduled' | 'notApplicable', { id: string; workflowId: string }> = {} as never;

async function open(body: Record<string, unknown>) {
  const res = await stack.call('POST', '/v1/patches', { token: operator, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; workflowId: string };
}

const status = async (id: string) => (await stack.call('GET', `/v1/patches/${id}`, { token: auditor })).body;
const list = async (query: string) => {
  const res = await stack.call('GET', `/v1/patches?${query}`, { token: auditor });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { patches: any[]; nextPageToken: string | null };
};
const ids = (page: { patches: { id: string }[] }) => page.patches.map((p) => p.id).sort();

beforeAll(async () => {
  stack = await startTestStack();
  operator = await stack.user('opal', ['operator']);
  auditor = await stack.user('aude', ['auditor']);
  reviewer = await stack.user('rita', ['reviewer']);
  const records = [
    { ...readJson('osv', 'ubuntu', 'USN-6859-1.json'), id: SSH },
    { ...readJson('osv', 'debian', 'DSA-3029-1.json'), id: NGINX },
  ];
  expect((await stack.call('POST', '/v1/feeds/osv', { token: operator, body: records })).body).toMatchObject({ imported: 2 });
  const host = {
    id: 'views-web-1',
    hostname: 'views-web-1.corp.example',
    environment: 'production',
    os: { name: 'ubuntu', version: '22.04' },
    criticality: 'high',
    exposure: 'internet',
    packages: [{ name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6', source: 'openssh' }],
  };
  expect((await stack.call('PUT', '/v1/assets', { token: operator, body: { assets: [host] } })).status).toBe(200);

  patches.emergency = await open({ advisoryIds: [SSH], emergency: true, title: 'regreSSHion, now' });
  patches.scheduled = await open({ advisoryIds: [SSH], title: 'regreSSHion, scheduled' });
  patches.notApplicable = await open({ advisoryIds: [NGINX] });
  for (const patch of [patches.emergency, patches.scheduled]) {
    expect(
      (
        await eventually(
          () => status(patch.id),
          (s) => s.phase !== 'assessment',
        )
      ).phase,
    ).toBe('peer-review');
  }
  expect(await stack.client.workflow.getHandle(patches.notApplicable.workflowId).result()).toMatchObject({ outcome: 'not-applicable' });
});
afterAll(() => stack?.stop());

describe('GET /v1/patches', () => {
  it('lists patches from visibility, filtered by advisory, emergency, phase and priority', async () => {
    const { emergency, scheduled, notApplicable } = patches;
    const both = await eventually(
      () => list(`advisory=${SSH}`),
      (page) => page.patches.length === 2 && page.patches.every((p) => p.phase === 'peer-review'),
    );
    expect(ids(both)).toEqual([emergency.id, scheduled.id].sort());
    const priority = (await status(emergency.id)).priority as number;
    expect(both.patches.find((p) => p.id === emergency.id)).toEqual({
      id: emergency.id,
      workflowId: emergency.workflowId,
      phase: 'peer-review',
      state: expect.toBeOneOf([...STATES]),
      priority,
      emergency: true,
      advisoryIds: [SSH],
      title: 'regreSSHion, now',
      requestedBy: 'opal',
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      closedAt: null,
      executionStatus: 'running',
    });
    expect(both.nextPageToken).toBeNull();

    expect(ids(await list(`advisory=${SSH}&emergency=true`))).toEqual([emergency.id]);
    expect(ids(await list(`advisory=${SSH}&emergency=false`))).toEqual([scheduled.id]);
    expect(ids(await list(`advisory=${SSH}&phase=peer-review&priority=${priority}`))).toEqual([emergency.id, scheduled.id].sort());
    expect(ids(await list(`advisory=${SSH}&priority=${(priority % 4) + 1}`))).toEqual([]);
    expect(ids(await list(`advisory=${SSH}&phase=approval`))).toEqual([]);

    // state, as the patch reports it, filters too
    const state = both.patches.find((p) => p.id === emergency.id).state as string;
    expect(ids(await list(`advisory=${SSH}&emergency=true&state=${state}`))).toEqual([emergency.id]);
    expect(ids(await list(`advisory=${SSH}&state=${STATES.find((s) => s !== state)}`))).not.toContain(emergency.id);

    const closed = await eventually(
      () => list(`advisory=${NGINX}&phase=completed`),
      (page) => page.patches.length === 1,
    );
    expect(closed.patches[0]).toMatchObject({ id: notApplicable.id, phase: 'completed', executionStatus: 'completed', priority: null });
    expect(Date.parse(closed.patches[0].closedAt)).toBeGreaterThanOrEqual(Date.parse(closed.patches[0].startedAt));
  });

  it('pages with limit=1, following nextPageToken to the end', async () => {
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const page = await list(`advisory=${SSH}&limit=1${token ? `&pageToken=${token}` : ''}`);
      expect(page.patches.length).toBeLessThanOrEqual(1);
      seen.push(...page.patches.map((p) => p.id));
      if (pages === 0) expect(page.nextPageToken).toMatch(/^[A-Za-z0-9_-]+\.[0-9a-f]{16}$/);
      token = page.nextPageToken;
      pages += 1;
    } while (token && pages < 10);
    expect(token).toBeNull();
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(seen.sort()).toEqual([patches.emergency.id, patches.scheduled.id].sort());
  });

  it('refuses bad filters and page tokens with 400, and answers any role', async () => {
    for (const query of [
      'priority=5',
      'priority=one',
      'phase=nope',
      'state=asleep',
      'emergency=yes',
      'limit=0',
      'limit=101',
      'advisory=%27x',
      'pageToken=%21%21',
      'sort=asc',
    ]) {
      const res = await stack.call('GET', `/v1/patches?${query}`, { token: auditor });
      expect(res.status, query).toBe(400);
      expect(res.body.error.code, query).toBe('invalid_request');
    }
    // a token that is not one, or one of another listing, is refused before it reaches the server
    const started = Date.now();
    const forged = await stack.call('GET', `/v1/patches?pageToken=AAAA.${'0'.repeat(16)}`, { token: auditor });
    expect(forged.status).toBe(400);
    expect(forged.body.error.code).toBe('bad_request');
    const { nextPageToken } = await list(`advisory=${SSH}&limit=1`);
    const elsewhere = await stack.call('GET', `/v1/patches?advisory=${SSH}&emergency=true&limit=1&pageToken=${nextPageToken}`, {
      token: auditor,
    });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error.message).toContain('same filters');
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await stack.call('GET', `/v1/patches?advisory=${SSH}`, { token: reviewer })).status).toBe(200);
    expect((await stack.call('GET', '/v1/patches')).status).toBe(401);
  });

  it('agrees with `temporal workflow list --query "PatchPhase=\'peer-review\'"`', async () => {
    const agreed = await listedBothWays(stack, auditor, 'peer-review');
    expect(agreed.api).toEqual(agreed.cli);
    expect(agreed.api).toEqual(expect.arrayContaining([patches.emergency.workflowId, patches.scheduled.workflowId]));
    expect(agreed.api).not.toContain(patches.notApplicable.workflowId);
  });
});

describe('GET /v1/patches/:id/history', () => {
  const timeline = async (id: string, token = auditor) => stack.call('GET', `/v1/patches/${id}/history`, { token });

  it('renders the real Temporal history: opened by the operator, the assess activity, the phase change', async () => {
    const { emergency } = patches;
    const res = await eventually(
      () => timeline(emergency.id),
      (r) => r.status === 200 && r.body.some((row: any) => row.type === 'phase' && row.details.to === 'peer-review'),
    );
    expect(res.status).toBe(200);
    const rows = res.body as { eventId: number; time: string; type: string; actor: string | null; phase: string | null; details: any }[];

    expect(rows[0]).toMatchObject({
      type: 'patch-opened',
      actor: 'opal',
      phase: 'assessment',
      details: { id: emergency.id, advisoryIds: [SSH], emergency: true, title: 'regreSSHion, now' },
    });
    const scheduled = rows.findIndex((r) => r.type === 'activity-scheduled' && r.details.activityType === 'assess');
    const completed = rows.findIndex((r) => r.type === 'activity-completed' && r.details.activityType === 'assess');
    const toReview = rows.findIndex((r) => r.type === 'phase' && r.details.to === 'peer-review');
    expect(rows[scheduled]).toMatchObject({
      actor: null,
      phase: 'assessment',
      details: { input: { patchId: emergency.id, advisoryIds: [SSH] } },
    });
    const priority = (await status(emergency.id)).priority;
    expect(rows[completed]).toMatchObject({ phase: 'assessment', details: { result: { affectedAssets: 1, priority } } });
    expect(rows[toReview]).toMatchObject({ phase: 'peer-review', details: { from: 'assessment', to: 'peer-review' } });
    expect(0 < scheduled && scheduled < completed && completed < toReview).toBe(true);

    // every row is an event of the server's history, none of them a workflow task or marker
    const history = await stack.client.workflow.getHandle(emergency.workflowId).fetchHistory();
    const kinds = new Map(history.events!.map((e) => [Number(e.eventId), Object.keys(e).find((k) => k.endsWith('EventAttributes'))]));
    for (const row of rows) expect(kinds.get(row.eventId)).toBeDefined();
    expect(rows.filter((r) => /^(workflowTask|markerRecorded)/.test(kinds.get(r.eventId)!))).toEqual([]);
    expect(new Date(rows[0]!.time).getTime()).toBeLessThanOrEqual(new Date(rows.at(-1)!.time).getTime());

    expect((await timeline(emergency.id, stack.adminToken)).status).toBe(200);
  });

  it('shows an accepted review with its reviewer, while a refused one leaves no trace (the audit keeps both)', async () => {
    const patch = await open({ advisoryIds: [SSH], title: 'reviewed' });
    await eventually(
      () => status(patch.id),
      (s) => s.phase === 'peer-review',
    );
    const review = { verdict: 'approve', comment: 'fix verified on a lab clone' };
    expect((await stack.call('POST', `/v1/patches/${patch.id}/reviews`, { token: reviewer, body: review })).status).toBe(200);
    const again = await stack.call('POST', `/v1/patches/${patch.id}/reviews`, { token: reviewer, body: review });
    expect(again.status).toBe(409);

    const rows = (
      await eventually(
        () => timeline(patch.id),
        (r) => r.body.some((row: any) => row.type === 'update-completed:review'),
      )
    ).body as any[];
    const reviews = rows.filter((r) => r.type === 'update:review');
    expect(reviews).toHaveLength(1);
    expect(reviews[0]).toMatchObject({ actor: 'rita', phase: 'peer-review', details: review });
    expect(reviews[0].details).not.toHaveProperty('actor');
    expect(rows.find((r) => r.type === 'update-completed:review')).toMatchObject({ actor: 'rita', details: { outcome: 'success' } });

    const audit = await eventually(
      async () => (await stack.call('GET', `/v1/audit?path=/v1/patches/${patch.id}/reviews`, { token: auditor })).body,
      (body) => body.total === 2,
    );
    expect(audit.entries.map((e: any) => [e.actorName, e.status])).toEqual([
      ['rita', 409],
      ['rita', 200],
    ]);
  });

  it('is for auditors and admins: 403 for an operator; 404 for an unknown patch; 400 for a malformed id', async () => {
    const forbidden = await timeline(patches.emergency.id, operator);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.details.requiredRoles).toEqual(['auditor', 'admin']);
    const unknown = await timeline('20200101-deadbeef');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    expect((await timeline('NOT_AN_ID')).status).toBe(400);
  });
});
