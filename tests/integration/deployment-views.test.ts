/**
 * `GET /v1/patches/:id/hosts`, `GET /v1/patches/:id/report` and `GET /v1/compliance` on deployment
 * rows written straight into a fresh database (as the deployment activities would), plus one real
 * patch that closes before deployment.
 */
import crypto from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorResponse } from '../../src/api/schemas';
import { HostsPage } from '../../src/api/deployment-schemas';
import { ComplianceView } from '../../src/domain/compliance';
import { PatchReport } from '../../src/domain/report';
import { startTestStack, type TestStack } from '../helpers/servers';
import { readJson } from '../helpers/fixtures';

let stack: TestStack;
let auditor: string;
let reviewer: string;

const H = 3_600_000;
const now = Date.now();
const ago = (hours: number) => new Date(now - hours * H).toISOString();

/** An emergency past its maximum deadline, finished; a scheduled patch well within its deadlines. */
const EMERGENCY = '20260301-aaaa0001';
const SCHEDULED = '20260301-bbbb0002';

async function seed() {
  const q = (sql: string, params: unknown[]) => stack.pool.query(sql, params);
  await q(
    `INSERT INTO patch_deployments (patch_id, title, priority, emergency, opened_at, recommended_deadline, maximum_deadline, started_at, finished_at, outcome)
     VALUES ($1, 'regreSSHion, now', 1, true, $2, $3, $4, $5, $6, 'completed'),
            ($7, 'openssl, scheduled', 3, false, $8, $9, $10, $8, NULL, NULL)`,
    [EMERGENCY, ago(30), ago(18), ago(6), ago(29), ago(7), SCHEDULED, ago(24), ago(-29 * 24), ago(-59 * 24)],
  );
  const hosts: [string, string, string, number | null, number, string, string | null, number, string | null, string | null][] = [
    // patch, asset, ring, wave, position, status, reason, attempts, started, finished
    [EMERGENCY, 'lab-1', 'lab', null, 0, 'installed', null, 1, ago(29), ago(28.9)],
    [EMERGENCY, 'pilot-1', 'pilot', null, 0, 'installed', null, 1, ago(28), ago(27.9)],
    [EMERGENCY, 'web-1', 'production', 0, 0, 'installed', null, 1, ago(26), ago(25.9)],
    [EMERGENCY, 'web-2', 'production', 0, 1, 'failed', 'disk full, "/var" at 100%', 2, ago(26), ago(20)],
    [EMERGENCY, 'web-3', 'production', 1, 0, 'unreachable', 'no route to host', 3, ago(24), ago(8)],
    [EMERGENCY, 'db-1', 'production', 1, 1, 'excepted', null, 0, null, null],
    [EMERGENCY, 'db-2', 'production', 1, 2, 'excepted', null, 0, null, null],
    [SCHEDULED, 'web-1', 'production', 0, 0, 'pending', null, 0, null, null],
    [SCHEDULED, 'web-2', 'production', 0, 1, 'deferred', 'owner deferral', 0, null, null],
    [SCHEDULED, 'db-1', 'production', 0, 2, 'installed', null, 1, ago(20), ago(19.5)],
  ];
  for (const [patch, asset, ring, wave, position, status, reason, attempts, started, finished] of hosts) {
    await q(
      `INSERT INTO deployment_hosts (patch_id, asset_id, ring, wave, position, connector, packages, status, reason, attempts, started_at, finished_at, changed)
       VALUES ($1, $2, $3, $4, $5, 'simulated', '{"openssh-server": "1:8.9p1-3ubuntu0.10"}', $6, $7, $8, $9, $10, $6 = 'installed')`,
      [patch, asset, ring, wave, position, status, reason, attempts, started, finished],
    );
  }
  const steps: [number, string, boolean, string | null, string | null][] = [
    [1, 'precheck', true, 'reachable, 2 GB free', null],
    [1, 'install', false, 'dpkg: disk full', null],
    [1, 'rollback', true, 'restored', '[{"name": "openssh-server", "from": "1:8.9p1-3ubuntu0.10", "to": "1:8.9p1-3ubuntu0.6"}]'],
    [2, 'precheck', false, null, null],
  ];
  for (const [attempt, step, ok, detail, changes] of steps) {
    await q(
      `INSERT INTO deployment_records (patch_id, asset_id, attempt, step, ok, detail, changes) VALUES ($1, 'web-2', $2, $3, $4, $5, $6)`,
      [EMERGENCY, attempt, step, ok, detail, changes],
    );
  }
  await q(
    `INSERT INTO host_exceptions (id, patch_id, asset_id, compensating_control, expires_at, approved_by, at)
     VALUES ('x1', $1, 'db-1', 'isolated VLAN', $2, 'carol', $3), ('x2', $1, 'db-2', 'WAF rule', $4, 'carol', $3),
            ('x3', $1, 'db-1', 'old rule', $4, 'carol', $5)`,
    [EMERGENCY, ago(-24 * 30), ago(10), ago(1), ago(0.5)],
  );
  await q(
    `INSERT INTO host_deferrals (id, patch_id, asset_id, until, reason, requested_by, at) VALUES ('d1', $1, 'web-2', $2, 'quarter close', 'team-web', $3)`,
    [SCHEDULED, ago(-24 * 5), ago(23)],
  );
  await q(
    `INSERT INTO sla_breaches (patch_id, asset_id, reason, at) VALUES ($1, 'web-3', 'unreachable', $2), ($1, 'web-2', 'install failed: disk full', $2)`,
    [EMERGENCY, ago(6)],
  );
}

beforeAll(async () => {
  stack = await startTestStack();
  auditor = await stack.user('aude', ['auditor']);
  reviewer = await stack.user('rita', ['reviewer']);
  await seed();
});
afterAll(() => stack?.stop());

const get = (path: string, token = auditor) => stack.call('GET', path, { token });
async function ok(path: string, token = auditor) {
  const res = await get(path, token);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}
/** A text answer with its headers. */
async function raw(path: string) {
  const res = await fetch(`${stack.baseUrl}${path}`, { headers: { authorization: `Bearer ${auditor}` } });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    disposition: res.headers.get('content-disposition'),
    text: await res.text(),
  };
}
function expectError(res: { status: number; body: unknown }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(ErrorResponse.parse(res.body).error.code).toBe(code);
}

describe('GET /v1/patches/:id/hosts', () => {
  it('lists the hosts in rollout order with the total and the counts of the whole patch', async () => {
    const page = HostsPage.parse(await ok(`/v1/patches/${EMERGENCY}/hosts`));
    expect(page.hosts.map((h) => h.assetId)).toEqual(['lab-1', 'pilot-1', 'web-1', 'web-2', 'web-3', 'db-1', 'db-2']);
    expect(page).toMatchObject({ total: 7, limit: 100, offset: 0 });
    expect(page.counts).toMatchObject({ installed: 3, failed: 1, unreachable: 1, excepted: 2, pending: 0 });
    expect(page.hosts[3]).toEqual({
      assetId: 'web-2',
      ring: 'production',
      wave: 0,
      status: 'failed',
      reason: 'disk full, "/var" at 100%',
      attempts: 2,
      changed: false,
      previousVersions: null,
      startedAt: ago(26),
      finishedAt: ago(20),
    });
  });

  it('filters by status (one or several), ring and wave, and pages', async () => {
    const ids = async (query: string) =>
      (await ok(`/v1/patches/${EMERGENCY}/hosts?${query}`)).hosts.map((h: { assetId: string }) => h.assetId);
    expect(await ids('status=failed')).toEqual(['web-2']);
    expect(await ids('status=failed,unreachable')).toEqual(['web-2', 'web-3']);
    expect(await ids('ring=lab')).toEqual(['lab-1']);
    expect(await ids('ring=production&wave=1')).toEqual(['web-3', 'db-1', 'db-2']);
    expect(await ids('wave=0&status=installed')).toEqual(['web-1']);
    const paged = await ok(`/v1/patches/${EMERGENCY}/hosts?limit=2&offset=2`);
    expect(paged.hosts.map((h: { assetId: string }) => h.assetId)).toEqual(['web-1', 'web-2']);
    expect(paged).toMatchObject({ total: 7, limit: 2, offset: 2 });
    const filteredPage = await ok(`/v1/patches/${EMERGENCY}/hosts?status=excepted&limit=1&offset=1`);
    expect(filteredPage).toMatchObject({ total: 2, hosts: [{ assetId: 'db-2' }] });
    // counts stay those of the whole patch
    expect(filteredPage.counts.installed).toBe(3);
    expect((await ok(`/v1/patches/${EMERGENCY}/hosts?offset=50`)).hosts).toEqual([]);
  });

  it('adds the step records with steps=true', async () => {
    const page = await ok(`/v1/patches/${EMERGENCY}/hosts?status=failed,installed&steps=true`);
    const web2 = page.hosts.find((h: { assetId: string }) => h.assetId === 'web-2');
    expect(web2.steps.map((s: any) => [s.attempt, s.step, s.ok])).toEqual([
      [1, 'precheck', true],
      [1, 'install', false],
      [1, 'rollback', true],
      [2, 'precheck', false],
    ]);
    expect(web2.steps[2].changes).toEqual([{ name: 'openssh-server', from: '1:8.9p1-3ubuntu0.10', to: '1:8.9p1-3ubuntu0.6' }]);
    expect(web2.steps[3].detail).toBe('');
    expect(page.hosts.find((h: { assetId: string }) => h.assetId === 'web-1').steps).toEqual([]);
    expect((await ok(`/v1/patches/${EMERGENCY}/hosts`)).hosts[0].steps).toBeUndefined();
  });

  it('refuses bad queries with 400, unknown patches with 404, and strangers with 401', async () => {
    for (const query of [
      'status=done',
      'status=failed,',
      'ring=qa',
      'wave=-1',
      'wave=',
      'wave=1e2',
      'limit=0',
      'limit=1001',
      'offset=-1',
      'steps=yes',
      'sort=asc',
      'status=failed&status=installed',
    ]) {
      expectError(await get(`/v1/patches/${EMERGENCY}/hosts?${query}`), 400, 'invalid_request');
    }
    expectError(await get('/v1/patches/NOT_AN_ID/hosts'), 400, 'invalid_request');
    expectError(await get('/v1/patches/20990101-deadbeef/hosts'), 404, 'not_found');
    expectError(await stack.call('GET', `/v1/patches/${EMERGENCY}/hosts`), 401, 'unauthenticated');
    expect((await get(`/v1/patches/${EMERGENCY}/hosts`, reviewer)).status).toBe(200);
  });
});

describe('GET /v1/patches/:id/report', () => {
  it('reports outcome, counts, waves, failures, stragglers, exceptions and breaches as JSON', async () => {
    const report = PatchReport.parse(await ok(`/v1/patches/${EMERGENCY}/report`));
    expect(report.final).toBe(true);
    expect(report.outcome).toBe('completed');
    // the workflow of a seeded patch does not exist: the tables alone answer
    expect(report.patch).toMatchObject({ id: EMERGENCY, title: 'regreSSHion, now', priority: 1, priorityName: 'emergency', phase: null });
    expect(report.counts).toMatchObject({ installed: 3, failed: 1, unreachable: 1, excepted: 2 });
    expect(report.waves.map((w) => [w.ring, w.wave, w.hosts])).toEqual([
      ['lab', null, 1],
      ['pilot', null, 1],
      ['production', 0, 2],
      ['production', 1, 3],
    ]);
    expect(report.failures.map((f) => f.assetId)).toEqual(['web-2', 'web-3']);
    // db-2's exception expired: it is a straggler again, past the maximum deadline
    expect(report.stragglers.map((s) => [s.assetId, s.reason, s.sla])).toEqual([
      ['web-2', 'disk full, "/var" at 100%', 'breached'],
      ['web-3', 'no route to host', 'breached'],
      ['db-2', 'exception expired', 'breached'],
    ]);
    expect(report.exceptions.map((e) => [e.assetId, e.inForce])).toEqual([
      ['db-1', true],
      ['db-2', false],
      ['db-1', false],
    ]);
    expect(report.breaches.map((b) => b.assetId).sort()).toEqual(['web-2', 'web-3']);
    expect(report.sla.met).toBe('missed');
    expect(report.compliance).toMatchObject({ hosts: 7, compliant: 4, nonCompliant: 3 });
  });

  it('renders Markdown and CSV with their content types', async () => {
    const md = await raw(`/v1/patches/${EMERGENCY}/report?format=md`);
    expect(md.status).toBe(200);
    expect(md.contentType).toBe('text/markdown; charset=utf-8');
    expect(md.text).toContain(`# Patch report: regreSSHion, now (${EMERGENCY})`);
    expect(md.text).toContain('## SLA breaches');

    const csv = await raw(`/v1/patches/${EMERGENCY}/report?format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.contentType).toBe('text/csv; charset=utf-8');
    expect(csv.disposition).toBe(`attachment; filename="patch-${EMERGENCY}-hosts.csv"`);
    expect(csv.text.split('\r\n')[0]).toBe('asset,ring,wave,status,reason,attempts,started,finished,sla');
    const rows = parse<Record<string, string>>(csv.text, { columns: true });
    expect(rows.map((r) => r.asset)).toEqual(['lab-1', 'pilot-1', 'web-1', 'web-2', 'web-3', 'db-1', 'db-2']);
    expect(rows[3]).toEqual({
      asset: 'web-2',
      ring: 'production',
      wave: '0',
      status: 'failed',
      reason: 'disk full, "/var" at 100%',
      attempts: '2',
      started: ago(26),
      finished: ago(20),
      sla: 'breached',
    });
  });

  it('reports a patch still in deployment as its current state', async () => {
    const report = await ok(`/v1/patches/${SCHEDULED}/report`);
    expect(report.final).toBe(false);
    expect(report.stragglers).toEqual([]);
    expect(report.deferrals).toEqual([expect.objectContaining({ assetId: 'web-2', inForce: true, requestedBy: 'team-web' })]);
    expect(report.compliance).toMatchObject({ hosts: 3, compliant: 1, sla: { 'on-time': 3, 'at-risk': 0, breached: 0 } });
  });

  it('answers 409 for a patch that closed before deployment, 404 for none, 400 for a bad format', async () => {
    const operator = await stack.user('opal', ['operator']);
    const advisory = `PFD-3029-${crypto.randomBytes(3).toString('hex')}`;
    const record = { ...readJson<object>('osv', 'debian', 'DSA-3029-1.json'), id: advisory };
    expect((await stack.call('POST', '/v1/feeds/osv', { token: operator, body: record })).body).toMatchObject({ imported: 1 });
    const opened = await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: [advisory] } });
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    expect(await stack.client.workflow.getHandle(opened.body.workflowId).result()).toMatchObject({ outcome: 'not-applicable' });

    const res = await get(`/v1/patches/${opened.body.id}/report`);
    expectError(res, 409, 'conflict');
    expect(res.body.error.message).toContain('has not reached deployment (closed as not-applicable');
    expect(res.body.error.details).toEqual({ phase: 'completed', state: 'done', outcome: 'not-applicable' });
    // a patch without hosts lists none
    expect(await ok(`/v1/patches/${opened.body.id}/hosts`)).toMatchObject({ hosts: [], total: 0 });

    expectError(await get('/v1/patches/20990101-deadbeef/report'), 404, 'not_found');
    expectError(await get(`/v1/patches/${EMERGENCY}/report?format=pdf`), 400, 'invalid_request');
  });
});

describe('GET /v1/compliance', () => {
  it('judges every host of every deployed patch, by asset, patch and priority', async () => {
    const view = ComplianceView.parse(await ok('/v1/compliance'));
    expect(view.totals).toMatchObject({ hosts: 10, compliant: 5, nonCompliant: 5 });
    expect(view.assets.map((a) => [a.assetId, a.compliant, a.sla])).toEqual([
      ['db-1', true, 'on-time'],
      ['db-2', false, 'breached'],
      ['lab-1', true, 'on-time'],
      ['pilot-1', true, 'on-time'],
      ['web-1', false, 'on-time'],
      ['web-2', false, 'breached'],
      ['web-3', false, 'breached'],
    ]);
    const web2 = view.assets.find((a) => a.assetId === 'web-2')!;
    expect(web2.patches.map((p) => [p.patchId, p.sla, p.basis])).toEqual([
      [EMERGENCY, 'breached', 'open'],
      [SCHEDULED, 'on-time', 'deferred'],
    ]);
    expect(web2.patches[0]!.breach).toEqual({ reason: 'install failed: disk full' });
    expect(web2.patches[1]!.deferral).toEqual({ until: ago(-24 * 5), reason: 'quarter close' });
    // db-1's later, expired exception does not hide the one in force
    expect(view.assets[0]!.patches[0]!.exception).toEqual({ compensatingControl: 'isolated VLAN', expiresAt: ago(-24 * 30) });
    expect(view.patches.map((p) => [p.patchId, p.hosts, p.compliant, p.worst])).toEqual([
      [EMERGENCY, 7, 4, 'breached'],
      [SCHEDULED, 3, 1, 'on-time'],
    ]);
    expect(view.priorities.map((p) => [p.priority, p.name, p.hosts])).toEqual([
      [1, 'emergency', 7],
      [3, 'important', 3],
    ]);
  });

  it('filters by asset, patch, priority and SLA status, and pages the assets', async () => {
    const assets = async (query: string) => (await ok(`/v1/compliance?${query}`)).assets.map((a: { assetId: string }) => a.assetId);
    expect(await assets('asset=web-1')).toEqual(['web-1']);
    expect(await assets(`patch=${SCHEDULED}`)).toEqual(['db-1', 'web-1', 'web-2']);
    expect(await assets('priority=3')).toEqual(['db-1', 'web-1', 'web-2']);
    expect(await assets('priority=2')).toEqual([]);
    expect(await assets('sla=breached')).toEqual(['db-2', 'web-2', 'web-3']);
    const breached = await ok(`/v1/compliance?sla=breached&patch=${EMERGENCY}`);
    expect(breached.totals).toMatchObject({ hosts: 3, sla: { breached: 3 } });
    const paged = await ok('/v1/compliance?limit=2&offset=1');
    expect(paged.assets.map((a: { assetId: string }) => a.assetId)).toEqual(['db-2', 'lab-1']);
    expect(paged).toMatchObject({ totalAssets: 7, totals: { hosts: 10 } });
  });

  it('refuses bad filters with 400 and answers any role', async () => {
    for (const query of ['priority=5', 'priority=one', 'sla=late', 'asset=%27x', 'patch=NOPE', 'limit=0', 'owner=me']) {
      expectError(await get(`/v1/compliance?${query}`), 400, 'invalid_request');
    }
    expect((await get('/v1/compliance', reviewer)).status).toBe(200);
    expectError(await stack.call('GET', '/v1/compliance'), 401, 'unauthenticated');
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = (await stack.call('GET', '/v1/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/patches/{id}/hosts', '/v1/patches/{id}/report', '/v1/compliance']));
    expect(doc.paths['/v1/patches/{id}/report'].get.responses).toHaveProperty('409');
    expect(Object.keys(doc.paths['/v1/patches/{id}/report'].get.responses['200'].content)).toEqual([
      'application/json',
      'text/markdown',
      'text/csv',
    ]);
  });
});
