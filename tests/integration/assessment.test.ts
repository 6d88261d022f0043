/**
 * Assessment over HTTP on the real servers: the inventory, the real feeds of fixtures/feeds,
 * exact applicability per Ubuntu notice, and the assessment phase of the workflow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssetSchema, type AssetInput } from '../../src/domain/asset';
import { upsertAssets } from '../../src/db/assets';
import { PatchPriority, PatchPhase } from '../../src/workflows/search-attributes';
import { saveHistory } from '../helpers/histories';
import { testAsset } from '../helpers/assets';
import { startTestStack, type TestStack } from '../helpers/servers';
import { cveRecords, kevCatalog, osvRecords, readJsonDir } from '../helpers/fixtures';

let stack: TestStack;
let operator: string;
let auditor: string;

beforeAll(async () => {
  stack = await startTestStack();
  operator = await stack.user('opal', ['operator']);
  auditor = await stack.user('aude', ['auditor']);
});
afterAll(() => stack?.stop());

async function importAll() {
  const osv = await stack.call('POST', '/v1/feeds/osv', { token: operator, body: osvRecords() });
  const cve = await stack.call('POST', '/v1/feeds/cve', { token: operator, body: cveRecords() });
  const kev = await stack.call('POST', '/v1/feeds/kev', { token: operator, body: kevCatalog() });
  return { osv, cve, kev };
}

const asset = testAsset;

async function putAssets(assets: AssetInput[]) {
  const res = await stack.call('PUT', '/v1/assets', { token: operator, body: { assets } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function waitForPhase(workflowId: string, accept: (status: any) => boolean) {
  const handle = stack.client.workflow.getHandle(workflowId);
  for (let i = 0; i < 100; i++) {
    const status = await handle.query('status');
    if (accept(status)) return status as any;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`workflow ${workflowId} did not get there`);
}

describe('feeds from fixtures/feeds', () => {
  it('imports everything, then a second import reports nothing new and changes nothing', async () => {
    const first = await importAll();
    expect(first.osv.body).toEqual({ imported: osvRecords().length, updated: 0, skipped: 0 });
    expect(first.cve.body).toEqual({ imported: cveRecords().length, updated: 0, skipped: 0 });
    expect(first.kev.body.imported).toBe(kevCatalog().vulnerabilities.length);

    const snapshot = async () =>
      (
        await stack.pool
          .query(`SELECT (SELECT json_agg(a ORDER BY id) FROM advisories a) AS a, (SELECT json_agg(c ORDER BY id) FROM cves c) AS c,
                                       (SELECT json_agg(k ORDER BY cve_id) FROM kev k) AS k`)
      ).rows[0];
    const before = await snapshot();
    const second = await importAll();
    expect(second.osv.body).toEqual({ imported: 0, updated: 0, skipped: osvRecords().length });
    expect(second.cve.body).toEqual({ imported: 0, updated: 0, skipped: cveRecords().length });
    expect(second.kev.body).toMatchObject({ imported: 0, updated: 0 });
    expect(await snapshot()).toEqual(before);
  });

  it('replaces a record only with a newer one', async () => {
    const [record] = readJsonDir('osv/debian');
    const newer = { ...record, modified: '2030-01-01T00:00:00Z', summary: 'nginx security update (revised)' };
    expect((await stack.call('POST', '/v1/feeds/osv', { token: operator, body: newer })).body).toEqual({
      imported: 0,
      updated: 1,
      skipped: 0,
    });
    expect((await stack.call('POST', '/v1/feeds/osv', { token: operator, body: record })).body).toEqual({
      imported: 0,
      updated: 0,
      skipped: 1,
    });
    const shown = await stack.call('GET', `/v1/advisories/${record.id}`, { token: auditor });
    expect(shown.body.summary).toBe('nginx security update (revised)');
  });

  it('links an advisory with its CVEs, scores and KEV entries', async () => {
    const res = await stack.call('GET', '/v1/advisories/USN-4705-1', { token: auditor });
    expect(res.status).toBe(200);
    expect(res.body.knownExploited).toBe(true);
    const baron = res.body.cves.find((c: any) => c.id === 'CVE-2021-3156');
    expect(baron.kev).toMatchObject({ dateAdded: '2022-04-06', dueDate: '2022-04-27' });
    expect(baron.cvss).toContainEqual(expect.objectContaining({ version: '3.1', baseScore: 7.8, source: 'adp:CISA-ADP' }));
    expect(baron.description).toMatch(/Sudo before 1\.9\.5p2/);
    expect(res.body.affectedPackages.map((p: any) => p.ecosystem)).toEqual(['Ubuntu:16.04:LTS', 'Ubuntu:18.04:LTS', 'Ubuntu:20.04:LTS']);
  });

  it('refuses a malformed record, naming it and the field, and writes nothing', async () => {
    const [good] = readJsonDir('osv/alpine');
    const bad = { ...good, id: 'BAD-1', modified: 'yesterday' };
    const res = await stack.call('POST', '/v1/feeds/osv', { token: operator, body: [{ ...good, id: 'NEW-1' }, bad] });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('body[1] (BAD-1).modified');
    const { rowCount } = await stack.pool.query("SELECT 1 FROM advisories WHERE id IN ('NEW-1', 'BAD-1')");
    expect(rowCount).toBe(0);
  });
});

describe('the assessment phase of patchLifecycle', () => {
  it('sets priority 1 for a known-exploited RCE on internet-facing critical hosts, with reasons and the KEV due date', async () => {
    await putAssets([
      asset('edge-web-1', {
        criticality: 'critical',
        exposure: 'internet',
        role: 'web',
        packages: [{ name: 'apache2', version: '2.4.52-1ubuntu4.9', source: 'apache2' }],
      }),
      asset('lab-web-1', {
        environment: 'lab',
        role: 'web',
        packages: [{ name: 'apache2', version: '2.4.52-1ubuntu4.9', source: 'apache2' }],
      }),
    ]);
    const created = await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: ['USN-6885-1'] } });
    expect(created.status).toBe(201);
    const status = await waitForPhase(created.body.workflowId, (s) => s.phase !== 'assessment');
    expect(status).toMatchObject({ phase: 'peer-review', state: 'waiting', priority: 1 });
    expect(status.targets.production).toBeGreaterThanOrEqual(1);
    expect(status.targets.lab).toBeGreaterThanOrEqual(1);
    expect(status.cves).toContain('CVE-2024-38475');
    const reasons = status.priorityReasons.join('\n');
    expect(reasons).toContain('CVE-2024-38475 is known to be exploited (CISA KEV, added 2025-05-01)');
    expect(reasons).toContain('internet-facing');
    expect(reasons).toMatch(/CISA KEV due date for CVE-2024-38475 \(2025-05-22\) has already passed/);
    expect(Date.parse(status.deadlines.maximum)).toBe(Date.parse('2025-05-22T23:59:59Z'));

    const handle = stack.client.workflow.getHandle(created.body.workflowId);
    const attrs = (await handle.describe()).typedSearchAttributes;
    expect(attrs.get(PatchPriority)).toBe(1);
    expect(attrs.get(PatchPhase)).toBe('peer-review');
    const { rows } = await stack.pool.query('SELECT DISTINCT asset_id FROM patch_targets WHERE patch_id = $1 ORDER BY 1', [
      created.body.id,
    ]);
    expect(rows.map((r) => r.asset_id)).toEqual(expect.arrayContaining(['edge-web-1', 'lab-web-1']));
    await handle.cancel();
    await saveHistory(handle, 'patch-assessed-then-cancelled');
  });

  it('gives a low-score local issue on isolated hosts priority 4', async () => {
    await putAssets([
      asset('vault-nginx-1', {
        exposure: 'isolated',
        criticality: 'medium',
        packages: [{ name: 'nginx', version: '1.18.0-6ubuntu14.4', source: 'nginx' }],
      }),
    ]);
    const created = await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: ['USN-7014-1'] } });
    const status = await waitForPhase(created.body.workflowId, (s) => s.phase !== 'assessment');
    expect(status.priority).toBe(4);
    expect(status.priorityReasons.join('\n')).toContain('Only isolated assets are affected');
    await stack.client.workflow.getHandle(created.body.workflowId).cancel();
  });

  it('ends not-applicable when no asset is affected', async () => {
    const created = await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: ['DSA-3029-1'] } });
    const handle = stack.client.workflow.getHandle(created.body.workflowId);
    const final = await handle.result();
    expect(final).toMatchObject({ phase: 'completed', state: 'done', outcome: 'not-applicable', priority: null });
    await saveHistory(handle, 'patch-not-applicable');
  });

  it('refuses a patch for an advisory that was never imported', async () => {
    const res = await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: ['USN-0000-1'] } });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual({ unknownAdvisories: ['USN-0000-1'] });
  });
});

describe('applicability of every Ubuntu notice', () => {
  const notices = readJsonDir('osv/ubuntu');
  const releaseOf = (ecosystem: string) => /Ubuntu:(?:Pro:)?([\d.]+)/.exec(ecosystem)![1]!;

  /** Per notice and release: a vulnerable host, a fixed host, and a vulnerable host on another release. */
  function fleetFor(notice: any) {
    const hosts: { asset: AssetInput; expectAffected: boolean }[] = [];
    const releases = new Set(notice.affected.map((a: any) => releaseOf(a.package.ecosystem)));
    for (const entry of notice.affected) {
      const release = releaseOf(entry.package.ecosystem);
      const fixed = entry.ranges[0].events.find((e: any) => e.fixed)?.fixed as string;
      const vulnerable = (entry.versions?.at(-1) as string | undefined) ?? `${fixed}~`;
      const binary = entry.ecosystem_specific?.binaries?.[0]?.binary_name ?? entry.package.name;
      const pkg = (version: string) => [{ name: binary, version, source: entry.package.name }];
      const slug = `${notice.id}-${entry.package.ecosystem.replace(/[^\w.]+/g, '_')}`;
      const other = ['16.04', '18.04', '20.04', '22.04', '24.04', '25.04', '14.04'].find((r) => !releases.has(r))!;
      hosts.push(
        {
          asset: asset(`${slug}-vulnerable`, { os: { name: 'ubuntu', version: release }, packages: pkg(vulnerable) }),
          expectAffected: true,
        },
        { asset: asset(`${slug}-fixed`, { os: { name: 'ubuntu', version: release }, packages: pkg(fixed) }), expectAffected: false },
        {
          asset: asset(`${slug}-other-release`, { os: { name: 'ubuntu', version: other }, packages: pkg(vulnerable) }),
          expectAffected: false,
        },
      );
    }
    return hosts;
  }

  it.each(notices.map((n: any) => [n.id, n]))(
    '%s: vulnerable hosts are affected; fixed hosts and other releases are not',
    async (_id, notice: any) => {
      const hosts = fleetFor(notice);
      await putAssets(hosts.map((h) => h.asset));
      const res = await stack.call('GET', `/v1/advisories/${notice.id}/affected-assets`, { token: auditor });
      expect(res.status).toBe(200);
      const affected = new Map(res.body.map((a: any) => [a.assetId, a]));
      for (const host of hosts) {
        expect(affected.has(host.asset.id), `${host.asset.id} affected?`).toBe(host.expectAffected);
      }
      const vulnerable = hosts.find((h) => h.expectAffected)!.asset;
      expect(affected.get(vulnerable.id)).toMatchObject({
        installedVersion: vulnerable.packages![0]!.version,
        fixedVersion: expect.any(String),
      });
    },
  );
});

describe('inventory API', () => {
  it('accepts CSV with packages, windows and controls, and filters the listing', async () => {
    const csv = [
      'id,hostname,environment,os_name,os_version,criticality,exposure,role,redundancy_group,timezone,maintenance_windows,compensating_controls,packages',
      'csv-web-1,csv-web-1.example,production,ubuntu,22.04,high,internet,web,csv-web,Europe/Berlin,"sat,sun 01:00-05:00",WAF rule 942,"openssh-server:amd64=1:8.9p1-3ubuntu0.6@openssh; sudo=1.9.9-1ubuntu2.4"',
      'csv-db-1,csv-db-1.example,pilot,debian,12,critical,isolated,db,,UTC,,,postgresql-15=15.6-0+deb12u1',
    ].join('\n');
    const res = await stack.call('PUT', '/v1/assets', { token: operator, rawBody: csv, headers: { 'content-type': 'text/csv' } });
    expect(res.body).toEqual({ upserted: 2 });
    const web = await stack.call('GET', '/v1/assets/csv-web-1', { token: auditor });
    expect(web.body).toMatchObject({
      environment: 'production',
      redundancyGroup: 'csv-web',
      timezone: 'Europe/Berlin',
      maintenanceWindows: [{ days: ['sat', 'sun'], start: '01:00', end: '05:00' }],
      compensatingControls: ['WAF rule 942'],
    });
    expect(web.body.packages).toEqual([
      { name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6', source: 'openssh', arch: 'amd64' },
      { name: 'sudo', version: '1.9.9-1ubuntu2.4' },
    ]);
    const listed = await stack.call('GET', '/v1/assets?hasPackage=openssh&exposure=internet&role=web', { token: auditor });
    expect(listed.body.assets.map((a: any) => a.id)).toEqual(['csv-web-1']);
    const pilot = await stack.call('GET', '/v1/assets?environment=pilot&os=debian:12&limit=5', { token: auditor });
    expect(pilot.body).toMatchObject({ total: 1, limit: 5, offset: 0 });
  });

  it('names the record and the field of a bad asset, and writes none of the batch', async () => {
    const res = await stack.call('PUT', '/v1/assets', {
      token: operator,
      body: { assets: [asset('ok-1'), asset('bad-1', { criticality: 'extreme' as never })] },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('body.assets[1] (bad-1).criticality');
    expect((await stack.call('GET', '/v1/assets/ok-1', { token: auditor })).status).toBe(404);

    const csv = 'id,hostname,environment,os_name,os_version,criticality,exposure,packages\nx-1,x,production,ubuntu,22.04,low,internal,sudo';
    const csvRes = await stack.call('PUT', '/v1/assets', { token: operator, rawBody: csv, headers: { 'content-type': 'text/csv' } });
    expect(csvRes.status).toBe(400);
    expect(csvRes.body.error.message).toContain('line 2 (x-1): packages: "sudo"');
  });
});

describe('bulk import', () => {
  it('refuses an asset id given twice, naming it, and writes nothing', async () => {
    const res = await stack.call('PUT', '/v1/assets', {
      token: operator,
      body: { assets: [asset('dup-1'), asset('dup-2'), asset('dup-1')] },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('body.assets[2] (dup-1).id: asset dup-1 appears more than once');
    expect((await stack.call('GET', '/v1/assets/dup-2', { token: auditor })).status).toBe(404);
  });

  it('writes thousands of assets across pipelined batches, sharing sets by content, all or nothing', async () => {
    const image = [
      { name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6', source: 'openssh', arch: 'amd64' },
      { name: 'sudo', version: '1.9.9-1ubuntu2.4+bulk' },
    ];
    const fleet = Array.from({ length: 2500 }, (_, n) =>
      AssetSchema.parse({
        ...asset(`bulk-${n}`),
        // every tenth host has drifted; one lists a package twice
        packages:
          n % 10 === 0 ? [image[0], { name: 'sudo', version: `1.9.9-1ubuntu2.${n % 3}+bulk` }] : n === 1 ? [...image, image[1]] : image,
      }),
    );
    const sets = async () => Number((await stack.pool.query('SELECT count(*) AS n FROM package_sets')).rows[0].n);
    const before = await sets();
    expect(await upsertAssets(stack.pool, fleet)).toBe(2500);
    expect((await sets()) - before).toBe(5); // the image, three drifts, the doubled list
    const drifted = await stack.call('GET', '/v1/assets/bulk-20', { token: auditor });
    expect(drifted.body.packages).toEqual([image[0], { name: 'sudo', version: '1.9.9-1ubuntu2.2+bulk' }]);

    // an id twice, batches apart: the database refuses the second write; nothing of the import stays
    const again = [
      ...fleet.slice(0, 2000).map((a) => ({ ...a, hostname: 'changed.example' })),
      { ...fleet[0]!, id: 'bulk-new' },
      fleet[1500]!,
      fleet[1500]!,
    ];
    await expect(upsertAssets(stack.pool, again)).rejects.toThrow();
    const kept = await stack.call('GET', '/v1/assets/bulk-7', { token: auditor });
    expect(kept.body.hostname).toBe(fleet[7]!.hostname);
    expect((await stack.call('GET', '/v1/assets/bulk-new', { token: auditor })).status).toBe(404);
  });
});

describe('policy', () => {
  it('is readable by auditors, changeable by admins only, and validated', async () => {
    const current = await stack.call('GET', '/v1/policy', { token: auditor });
    expect(current.body.policy.deadlines['1']).toEqual({ recommended: '12h', maximum: '24h' });
    expect((await stack.call('PUT', '/v1/policy', { token: operator, body: current.body.policy })).status).toBe(403);
    const bad = { ...current.body.policy, deadlines: { ...current.body.policy.deadlines, '2': { recommended: '30d', maximum: '7d' } } };
    const refused = await stack.call('PUT', '/v1/policy', { token: stack.adminToken, body: bad });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('recommended must not be later than maximum');
  });
});
