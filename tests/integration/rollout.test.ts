/**
 * The rollout end to end over HTTP on the real servers: a simulated fleet of about fifty assets
 * with clusters and injected faults, driven by an operator, two reviewers and an approver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAYS, type AssetInput } from '../../src/domain/asset';
import { saveHistory } from '../helpers/histories';
import {
  fleetAsset,
  importAdvisory,
  installsPerHost,
  largestHistory,
  patchSteps,
  people,
  putAssets,
  type People,
} from '../helpers/rollout';
import { startTestStack, type TestStack } from '../helpers/servers';

let stack: TestStack;
let who: People;
let steps: ReturnType<typeof patchSteps>;

beforeAll(async () => {
  stack = await startTestStack();
  who = await people(stack);
  steps = patchSteps(stack, who);
});
afterAll(async () => {
  await stack?.stop();
});

/**
 * 3 lab, 4 pilot and 44 production hosts: two web clusters of four, two db clusters of three,
 * app servers without a group; a kernel (a reboot) on some; one app server unreachable.
 */
function fleet(source: string): AssetInput[] {
  const a = (id: string, o: Parameters<typeof fleetAsset>[2] = {}) => fleetAsset(`${source}-${id}`, source, o);
  const assets = [
    a('lab-web', { environment: 'lab', role: 'web', reboot: true }),
    a('lab-db', { environment: 'lab', role: 'db' }),
    a('lab-app', { environment: 'lab', role: 'app' }),
    ...['web', 'web', 'db', 'app'].map((role, i) => a(`pilot-${i}`, { environment: 'pilot', role })),
  ];
  for (let i = 0; i < 8; i++)
    assets.push(
      a(`web-${i}`, { role: 'web', redundancyGroup: `${source}-web-${i < 4 ? 'a' : 'b'}`, reboot: i % 3 === 0, criticality: 'high' }),
    );
  for (let i = 0; i < 6; i++)
    assets.push(
      a(`db-${i}`, {
        role: 'db',
        redundancyGroup: `${source}-db-${i < 3 ? 'a' : 'b'}`,
        criticality: 'critical',
        simulation: { installMs: 40 },
      }),
    );
  for (let i = 0; i < 30; i++) assets.push(a(`app-${i}`, { role: 'app', simulation: { installMs: 5, unreachable: i === 7 } }));
  return assets;
}

const nonZero = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));

/** Intervals [first record, last record] of each host's first attempt, by redundancy group. */
async function mostInFlight(patchId: string, groupOf: Map<string, string | undefined>): Promise<{ overall: number; perGroup: number }> {
  const { rows } = await stack.pool.query<{ asset_id: string; started: Date; ended: Date }>(
    `SELECT asset_id, min(at) AS started, max(at) AS ended FROM deployment_records r
     JOIN deployment_hosts h USING (patch_id, asset_id)
     WHERE patch_id = $1 AND attempt = 1 AND h.ring = 'production' AND step <> 'verify'
     GROUP BY asset_id`,
    [patchId],
  );
  const overlapAt = (t: number, members: typeof rows) => members.filter((r) => r.started.getTime() <= t && t < r.ended.getTime()).length;
  let overall = 0;
  let perGroup = 0;
  for (const r of rows) {
    const t = r.started.getTime();
    overall = Math.max(overall, overlapAt(t, rows));
    const group = groupOf.get(r.asset_id);
    if (group)
      perGroup = Math.max(
        perGroup,
        overlapAt(
          t,
          rows.filter((o) => groupOf.get(o.asset_id) === group),
        ),
      );
  }
  return { overall, perGroup };
}

describe('a full lifecycle on a fifty-asset fleet', () => {
  it('tests in the lab, pilots, rolls out in waves within the limits, excepts the unreachable straggler, monitors, and completes with a postmortem that matches the hosts', async () => {
    const source = 'rollsrc';
    const assets = fleet(source);
    await importAdvisory(stack, who.opal, 'PF-ROLL-0001-1', source);
    await putAssets(stack, who.opal, assets);
    const settings = {
      productionWaves: 3,
      maxConcurrent: 5,
      maxPerGroupPerWave: 2,
      maxFailures: '20%',
      bakeTime: '200ms',
      pilotBakeTime: '300ms',
      monitoringWindow: '1500ms',
      stragglerRetryInterval: '400ms',
    };
    const id = await steps.openApproved('PF-ROLL-0001-1', { settings });

    // the unreachable app server is retried, then excepted by an approver
    const straggling = await steps.until(
      id,
      (s) => s.phase === 'verification' && s.stragglers.some((h: any) => h.attempts >= 2),
      'a retried straggler',
    );
    expect(straggling.stragglers).toEqual([
      { assetId: `${source}-app-7`, reason: expect.stringContaining('unreachable'), attempts: expect.any(Number) },
    ]);
    expect(straggling.lab).toMatchObject({ failures: [], uncoveredRoles: [], rollbackProof: { ok: true } });
    expect(straggling.lab.tests).toHaveLength(3);
    expect(straggling.waves.map((w: any) => [w.ring, w.index, w.status])).toEqual([
      ['lab', 0, 'done'],
      ['pilot', 0, 'done'],
      ['production', 0, 'done'],
      ['production', 1, 'done'],
      ['production', 2, 'done'],
    ]);

    const exception = {
      assetId: `${source}-app-7`,
      compensatingControl: 'isolated by the firewall until it is rebuilt',
      expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    };
    expect((await steps.post(id, 'exceptions', who.opal, exception)).status).toBe(403);
    const installedHost = { ...exception, assetId: `${source}-app-1` };
    expect((await steps.post(id, 'exceptions', who.carl, installedHost)).status).toBe(409);
    expect((await steps.post(id, 'exceptions', who.carl, { ...exception, assetId: 'nobody' })).status).toBe(400);
    expect((await steps.post(id, 'exceptions', who.carl, { ...exception, expiresAt: '2020-01-01T00:00:00Z' })).status).toBe(400);
    expect((await steps.post(id, 'exceptions', who.carl, exception)).status).toBe(200);

    // one low-severity report in monitoring stays under the threshold
    await steps.until(id, (s) => s.phase === 'monitoring', 'monitoring');
    // auditors write nothing (issue 14); the people of the change report problems
    expect((await steps.post(id, 'feedback', who.aude, { severity: 'low', message: 'a slow login on app-3' })).status).toBe(403);
    expect((await steps.post(id, 'feedback', who.rita, { severity: 'low', message: 'a slow login on app-3' })).status).toBe(200);
    const due = await steps.until(id, (s) => s.awaiting === 'postmortem', 'the postmortem');
    expect(due).toMatchObject({ phase: 'postmortem', state: 'waiting', halt: null, breaches: [] });
    expect(nonZero(due.hosts)).toEqual({ installed: assets.length - 1, excepted: 1 });
    expect((await steps.post(id, 'postmortem', who.aude, { lessonsLearned: 'x', actions: [] })).status).toBe(403);

    // the report's counts are the host records'
    const hosts = await steps.hosts(id);
    expect(hosts.total).toBe(assets.length);
    expect(nonZero(hosts.counts)).toEqual({ installed: assets.length - 1, excepted: 1 });
    const report = await stack.call('GET', `/v1/patches/${id}/report?format=json`, { token: who.aude });
    expect(report.status).toBe(200);
    expect(nonZero(report.body.counts)).toEqual(nonZero(hosts.counts));

    expect(
      (await steps.post(id, 'postmortem', who.opal, { lessonsLearned: 'Rebuild app-7 before the next patch.', actions: ['rebuild app-7'] }))
        .status,
    ).toBe(200);
    const done = await steps.until(id, (s) => s.state === 'done', 'completion');
    expect(done).toMatchObject({ outcome: 'completed', phase: 'completed', postmortem: { by: 'opal', actions: ['rebuild app-7'] } });
    expect(done.phases.map((p: any) => p.phase)).toEqual([
      'assessment',
      'peer-review',
      'approval',
      'testing',
      'pilot',
      'rollout',
      'verification',
      'monitoring',
      'postmortem',
      'completed',
    ]);

    // limits held: at most maxConcurrent hosts and maxPerGroupPerWave members of a cluster in flight
    const groupOf = new Map(assets.map((a) => [a.id, a.redundancyGroup ?? undefined]));
    const inFlight = await mostInFlight(id, groupOf);
    expect(inFlight.overall).toBeLessThanOrEqual(5);
    expect(inFlight.perGroup).toBeLessThanOrEqual(2);
    expect(inFlight.perGroup).toBeGreaterThanOrEqual(1);

    // every host patched once, the inventory shows the fixed versions, reboots went through their own steps
    const installs = await installsPerHost(stack, id);
    expect([...installs.values()].every((n) => n === 1)).toBe(true);
    expect(installs.size).toBe(assets.length - 1);
    expect(await steps.packageVersion(`${source}-web-0`, `linux-image-${source}`)).toBe('5.15.0-101.1');
    expect(await steps.packageVersion(`${source}-app-1`, `lib${source}`)).toBe('1.0-1ubuntu2');
    const web0 = (await steps.hosts(id, `&steps=true&status=installed`)).hosts.find((h) => h.assetId === `${source}-web-0`);
    expect(web0.steps.map((s: any) => s.step)).toEqual(expect.arrayContaining(['install', 'reboot', 'await', 'post-check']));

    const largest = await largestHistory(stack, id);
    expect(largest.events).toBeGreaterThan(0);
    expect(largest.events).toBeLessThan(10_000);
    await saveHistory(stack.client.workflow.getHandle(`patch-${id}`), 'rollout-completed');
    await saveHistory(stack.client.workflow.getHandle(`patch-${id}-production-1-4`), 'rollout-wave');
  });
});

describe('failure budget and rollback', () => {
  it('halts when a wave passes its failure budget; the operator rolls back every changed host, newest first, to its previous versions', async () => {
    const source = 'haltsrc';
    const a = (id: string, o: Parameters<typeof fleetAsset>[2] = {}) => fleetAsset(`${source}-${id}`, source, o);
    // least-critical first: the three failing low-criticality hosts come first in the only wave
    const assets = [
      a('lab', { environment: 'lab' }),
      ...[0, 1, 2].map((i) => a(`bad-${i}`, { criticality: 'low', simulation: { installMs: 5, failInstall: true } })),
      ...[0, 1, 2, 3, 4, 5].map((i) => a(`ok-${i}`, { criticality: 'high', reboot: i === 0 })),
    ];
    await importAdvisory(stack, who.opal, 'PF-HALT-0001-1', source);
    await putAssets(stack, who.opal, assets);
    const settings = { productionWaves: 1, maxConcurrent: 1, maxFailures: 1, pilotBakeTime: '100ms', bakeTime: '100ms' };
    const id = await steps.openApproved('PF-HALT-0001-1', { settings });

    const halted = await steps.until(id, (s) => s.state === 'halted', 'the halt');
    expect(halted).toMatchObject({
      phase: 'rollout',
      awaiting: 'operator',
      halt: { decidedBy: 'operator', reason: expect.stringContaining('budget allows 1') },
    });
    const hosts = await steps.hosts(id, '&ring=production');
    expect(hosts.counts.failed).toBe(2);
    expect(hosts.counts.pending).toBeGreaterThan(0);
    expect((await steps.post(id, 'rollout', who.carl, { action: 'rollback' })).status).toBe(403);
    expect((await steps.post(id, 'rollout', who.opal, { action: 'pause' })).status).toBe(409);

    // let it go on once, so some production hosts change; it halts again at the third failure
    expect((await steps.post(id, 'rollout', who.opal, { action: 'resume' })).status).toBe(200);
    await steps.until(
      id,
      (s) => s.state === 'halted' || s.awaiting === 'postmortem' || s.phase === 'verification',
      'the next stop',
      30_000,
    );
    const changedBefore = (await stack.pool.query(`SELECT asset_id FROM deployment_hosts WHERE patch_id = $1 AND changed`, [id])).rows.map(
      (r) => r.asset_id,
    );
    expect(changedBefore).toContain(`${source}-lab`);

    expect((await steps.post(id, 'rollout', who.opal, { action: 'rollback', comment: 'the vendor fix is broken' })).status).toBe(200);
    await steps.until(id, (s) => s.awaiting === 'postmortem', 'the postmortem after the rollback');
    for (const assetId of changedBefore) {
      expect(await steps.packageVersion(assetId, `lib${source}`)).toBe('1.0-1ubuntu1');
    }
    expect(await steps.packageVersion(`${source}-ok-0`, `linux-image-${source}`)).toBe('5.15.0-100.1');
    const after = await stack.pool.query(`SELECT count(*)::int AS n FROM deployment_hosts WHERE patch_id = $1 AND changed`, [id]);
    expect(after.rows[0].n).toBe(0);
    // newest first: the lab host, changed first, is rolled back last
    const order = await stack.pool.query<{ asset_id: string }>(
      `SELECT asset_id FROM deployment_records WHERE patch_id = $1 AND step = 'rollback' AND ok ORDER BY id`,
      [id],
    );
    expect(order.rows.at(-1)!.asset_id).toBe(`${source}-lab`);

    expect(
      (await steps.post(id, 'postmortem', who.opal, { lessonsLearned: 'Test the vendor fix on low-criticality hosts first.', actions: [] }))
        .status,
    ).toBe(200);
    const done = await steps.until(id, (s) => s.state === 'done', 'completion');
    expect(done.outcome).toBe('rolled-back');
    expect(done.actions.map((x: any) => x.action)).toEqual(['resume', 'rollback']);
    await saveHistory(stack.client.workflow.getHandle(`patch-${id}`), 'rollout-halted-rolled-back');
    await saveHistory(stack.client.workflow.getHandle(`patch-${id}-rollback`), 'rollout-rollback-hosts');
  });
});

describe('lab decision, emergency rules and abort', () => {
  it('waits for an approver when the lab fails, refuses deferrals of an emergency, and aborts during the pilot', async () => {
    const source = 'labsrc';
    const a = (id: string, o: Parameters<typeof fleetAsset>[2] = {}) => fleetAsset(`${source}-${id}`, source, o);
    const assets = [
      a('lab', { environment: 'lab', role: 'web', simulation: { installMs: 5, failVerify: true } }),
      a('pilot', { environment: 'pilot', role: 'web' }),
      a('prod-0', { role: 'db' }),
      a('prod-1', { role: 'web' }),
    ];
    await importAdvisory(stack, who.opal, 'PF-LAB-0001-1', source);
    await putAssets(stack, who.opal, assets);
    const id = await steps.openApproved('PF-LAB-0001-1', { emergency: true, settings: { pilotBakeTime: '1h' } });

    const halted = await steps.until(id, (s) => s.awaiting === 'lab-decision', 'the lab decision');
    expect(halted).toMatchObject({ phase: 'testing', state: 'halted', halt: { decidedBy: 'approver' } });
    expect(halted.lab.uncoveredRoles).toEqual(['db']);
    expect(halted.lab.failures).toEqual(
      expect.arrayContaining([expect.stringContaining('No lab host covers the role db'), expect.stringContaining('rolled-back')]),
    );
    expect((await steps.post(id, 'rollout', who.opal, { action: 'resume' })).status).toBe(409);
    expect((await steps.post(id, 'decision', who.carl, { decision: 'hold', comment: 'checking the lab logs' })).status).toBe(200);
    await steps.until(id, (s) => s.state === 'on-hold', 'the hold');
    expect((await steps.post(id, 'decision', who.carl, { decision: 'resume', comment: 'logs read' })).status).toBe(200);
    await steps.until(id, (s) => s.state === 'halted', 'halted again');
    expect(
      (await steps.post(id, 'decision', who.carl, { decision: 'deploy-anyway', comment: 'the lab host is flaky, not the fix' })).status,
    ).toBe(200);

    await steps.until(id, (s) => s.phase === 'pilot' && s.hosts.installed >= 1, 'the pilot bake');
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const deferral = await steps.post(id, 'deferrals', who.opal, { assetId: `${source}-prod-0`, until, reason: 'quarter-end close' });
    expect(deferral.status).toBe(409);
    expect(deferral.body.error.message).toContain('Emergency patches allow no deferrals');

    // two high-severity... one is enough: the pilot halts for an operator
    expect(
      (await steps.post(id, 'feedback', who.opal, { assetId: `${source}-pilot`, severity: 'high', message: 'checkout is down' })).status,
    ).toBe(200);
    await steps.until(id, (s) => s.state === 'halted' && s.awaiting === 'operator', 'the feedback halt');
    expect((await steps.post(id, 'rollout', who.opal, { action: 'abort', comment: 'investigating checkout' })).status).toBe(200);
    await steps.until(id, (s) => s.awaiting === 'postmortem', 'the postmortem after the abort');
    const pending = (await steps.hosts(id, '&status=pending')).hosts;
    expect(pending.map((h) => h.assetId).sort()).toEqual([`${source}-prod-0`, `${source}-prod-1`]);
    expect(
      (await steps.post(id, 'postmortem', who.opal, { lessonsLearned: 'Keep the lab host healthy.', actions: ['rebuild the lab host'] }))
        .status,
    ).toBe(200);
    expect(await steps.until(id, (s) => s.state === 'done', 'completion')).toMatchObject({ outcome: 'aborted' });
    await saveHistory(stack.client.workflow.getHandle(`patch-${id}`), 'rollout-lab-decision-aborted');
  });
});

describe('waiting for a maintenance window', () => {
  /** The events of the patch's workflow and of every child it started, as the server counts them now. */
  async function totalEvents(patchId: string): Promise<number> {
    const ids = [`patch-${patchId}`];
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId STARTS_WITH "patch-${patchId}-"` })) ids.push(wf.workflowId);
    const lengths = await Promise.all(ids.map(async (wfId) => (await stack.client.workflow.getHandle(wfId).describe()).historyLength));
    return lengths.reduce((a, b) => a + b, 0);
  }

  it('adds no history event while production waits days for its window; the status counts hosts from the records', async () => {
    const source = 'winsrc';
    const day = DAYS[(new Date(Date.now() + 3 * 86_400_000).getUTCDay() + 6) % 7]!; // DAYS starts on Monday
    const windows = [{ days: [day], start: '01:00', end: '03:00' }];
    const a = (id: string, o: Parameters<typeof fleetAsset>[2] = {}) => fleetAsset(`${source}-${id}`, source, o);
    await importAdvisory(stack, who.opal, 'PF-WIN-0001-1', source);
    await putAssets(stack, who.opal, [
      a('lab', { environment: 'lab', role: 'web' }),
      a('pilot', { environment: 'pilot', role: 'web' }),
      ...[0, 1, 2].map((i) => a(`prod-${i}`, { role: 'web', timezone: 'UTC', maintenanceWindows: windows })),
    ]);
    const id = await steps.openApproved('PF-WIN-0001-1', { settings: { pilotBakeTime: '1s', bakeTime: '1s', productionWaves: 1 } });

    const waiting = await steps.until(id, (s) => s.phase === 'rollout' && s.hosts.pending === 3, 'production waiting for its window');
    expect(waiting.hosts).toEqual({ installed: 2, pending: 3 });
    await new Promise((r) => setTimeout(r, 2_000)); // the wave's sweep settles into its wait
    const before = await totalEvents(id);
    await new Promise((r) => setTimeout(r, 15_000)); // longer than any short polling interval
    expect(await totalEvents(id)).toBe(before);

    expect((await steps.post(id, 'rollout', who.opal, { action: 'abort', comment: 'not waiting three days in a test' })).status).toBe(200);
    await steps.until(id, (s) => s.awaiting === 'postmortem', 'the postmortem after the abort');
    expect((await steps.post(id, 'postmortem', who.opal, { lessonsLearned: 'Windows hold.', actions: [] })).status).toBe(200);
    expect(await steps.until(id, (s) => s.state === 'done', 'completion')).toMatchObject({
      outcome: 'aborted',
      hosts: { installed: 2, pending: 3 },
    });
    await saveHistory(stack.client.workflow.getHandle(`patch-${id}`), 'rollout-waiting-for-window-aborted');
    const waves = stack.client.workflow.list({ query: `WorkflowId STARTS_WITH "patch-${id}-production-"` });
    for await (const wave of waves) await saveHistory(stack.client.workflow.getHandle(wave.workflowId), 'rollout-wave-waiting-for-window');
  });
});
