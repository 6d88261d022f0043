/**
 * Simulated time: the real patch workflow and worker on Temporal's time-skipping test server
 * (src/runtime/time-skipping-server.ts) and a fresh PostgreSQL, so the default policy's timers
 * (reviews late after a day, escalated after two) pass in seconds. The test server supports
 * updates and search attribute registration, not visibility list queries: everything here is
 * read through the `status` query and the history.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchStartOptions } from '../../src/api/patch-start';
import { upsertAssets } from '../../src/db/assets';
import { importOsv } from '../../src/db/feeds';
import { AssetSchema } from '../../src/domain/asset';
import type { Actor, PatchRequest } from '../../src/domain/patch';
import type { PatchStatus } from '../../src/domain/patch-status';
import type { DeliveryReport } from '../../src/services/notifications';
import { decideUpdate, feedbackUpdate, postmortemUpdate, reviewUpdate, rolloutUpdate, statusQuery } from '../../src/workflows/definitions';
import { patchLifecycle } from '../../src/workflows/patch/lifecycle';
import { testAsset } from '../helpers/assets';
import { readJson } from '../helpers/fixtures';
import { saveHistory } from '../helpers/histories';
import { TRUSTED_KEYS, updateSigner, type SignedExecute } from '../helpers/signed-updates';
import { freshDatabase, logger, startTestWorker } from '../helpers/servers';
import { timeSkippingEnvironment } from '../helpers/time-skipping';

const TASK_QUEUE = 'simulated-time';
const ADVISORY = 'USN-6859-1'; // OpenSSH; 22.04 fixed in 1:8.9p1-3ubuntu0.10
const DAY = 86_400_000;

const actor = (name: string, roles: Actor['roles']): Actor => ({ id: `user-${name}`, name, roles });
const opal = actor('opal', ['operator']);
const rita = actor('rita', ['reviewer']);
const remy = actor('remy', ['reviewer']);
const carl = actor('carl', ['approver']);

let env: TestWorkflowEnvironment;
let pool: Pool;
let worker: { stop: () => Promise<void> } | undefined;
/** Signed updates, signed at the server's clock (it runs ahead of the real one). */
let execute: SignedExecute;

beforeAll(async () => {
  env = await timeSkippingEnvironment();
  execute = updateSigner(() => env.currentTimeMs());
  ({ pool } = await freshDatabase());
  await importOsv(pool, [readJson('osv', 'ubuntu', `${ADVISORY}.json`)]);
  const host = testAsset('sim-web-1', { packages: [{ name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6', source: 'openssh' }] });
  await upsertAssets(pool, [AssetSchema.parse(host)]);
  worker = await startTestWorker(env.nativeConnection, pool, TASK_QUEUE);
}, 300_000);
afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
  await pool?.end();
});

/** Opens a patch the way POST /v1/patches does (src/api/routes/patches.ts). */
async function openPatch(id: string): Promise<WorkflowHandle<typeof patchLifecycle>> {
  const request: PatchRequest = {
    id,
    title: `Remediate ${ADVISORY}`,
    advisoryIds: [ADVISORY],
    emergency: false,
    settings: {},
    requestedBy: opal,
    requestedAt: new Date(await env.currentTimeMs()).toISOString(),
  };
  return env.client.workflow.start(patchLifecycle, patchStartOptions(request, TASK_QUEUE, TRUSTED_KEYS));
}

/** Polls the status query in real time (simulated time stands still meanwhile). */
async function until(handle: WorkflowHandle, accept: (s: PatchStatus) => boolean, what: string): Promise<PatchStatus> {
  let last: PatchStatus | undefined;
  for (let i = 0; i < 100; i++) {
    last = await handle.query(statusQuery);
    if (accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never reached ${what}; last status: ${JSON.stringify(last)}`);
}

/** The notify activities of a history: which event each told, and to whom it was delivered. */
async function notifications(handle: WorkflowHandle): Promise<{ event: string; report: DeliveryReport | undefined }[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'notify');
  return scheduled.map((e) => {
    const input = defaultPayloadConverter.fromPayload<{ event: string }>(e.activityTaskScheduledEventAttributes!.input!.payloads![0]!);
    const completed = events.find((c) => c.activityTaskCompletedEventAttributes?.scheduledEventId?.toString() === e.eventId?.toString());
    const result = completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
    return { event: input.event, report: result ? defaultPayloadConverter.fromPayload<DeliveryReport>(result) : undefined };
  });
}

describe('late reviews on the default policy, in simulated time', () => {
  it('reminds after one day and escalates after two, in seconds of wall time; then reviews and a cancel close the patch', async () => {
    const wallStart = Date.now();
    const handle = await openPatch('sim-late-reviews');
    const waiting = await until(handle, (s) => s.awaiting === 'reviews', 'peer review');
    expect(waiting.governance).toMatchObject({ fastTrack: false, reviewersRequired: 2, reviewTimeout: '1d' });
    expect(waiting.lateness).toEqual([]);
    const simulatedStart = await env.currentTimeMs();

    await env.sleep('1 day');
    const reminded = await until(handle, (s) => s.lateness.length >= 1, 'the reminder');
    expect(reminded.lateness.map((l) => [l.phase, l.level])).toEqual([['peer-review', 'reminder']]);

    await env.sleep('1 day');
    const escalated = await until(handle, (s) => s.lateness.length >= 2, 'the escalation');
    expect(escalated.lateness.map((l) => [l.phase, l.level])).toEqual([
      ['peer-review', 'reminder'],
      ['peer-review', 'escalation'],
    ]);
    expect(escalated.lateness[1]!.message).toBe('Reviews are late: no complete review after 2 × 1d');

    await env.sleep('1 day');
    const lateness = (await until(handle, (s) => s.lateness.length >= 3, 'the second escalation')).lateness;
    expect(lateness.map((l) => l.level)).toEqual(['reminder', 'escalation', 'escalation']);
    // a day of simulated time between them, whatever the real seconds were
    const gaps = lateness.slice(1).map((l, i) => Date.parse(l.at) - Date.parse(lateness[i]!.at));
    for (const gap of gaps) expect(Math.abs(gap - DAY)).toBeLessThan(60_000);
    expect((await env.currentTimeMs()) - simulatedStart).toBeGreaterThanOrEqual(3 * DAY);

    const wallMs = Date.now() - wallStart;
    const historyEvents = (await handle.fetchHistory()).events?.length ?? 0;
    logger.info({ wallMs, historyEvents }, 'three simulated days of late reviews');
    expect(wallMs).toBeLessThan(30_000);
    expect(historyEvents).toBeLessThan(100);

    for (const reviewer of [rita, remy]) {
      await execute(handle, reviewUpdate, { actor: reviewer, verdict: 'approve', comment: `${reviewer.name}: looks right` });
    }
    await until(handle, (s) => s.phase === 'approval' && s.awaiting === 'decision', 'the approval');
    await execute(handle, decideUpdate, { actor: carl, decision: 'cancel', comment: 'superseded by the next release' });
    const closed = await handle.result();
    expect(closed).toMatchObject({ outcome: 'cancelled', state: 'done', phase: 'completed', cancelled: { by: 'carl' } });
    expect(closed.reviews.map((r) => r.reviewer)).toEqual(['rita', 'remy']);

    // the default policy has no webhooks: every notification ran and reached no one
    const told = await notifications(handle);
    expect(told.map((n) => n.event)).toEqual(expect.arrayContaining(['review-requested', 'escalation', 'approval-requested', 'completed']));
    for (const { report } of told.filter((n) => n.report)) expect(report).toEqual({ delivered: [], failed: [] });
    expect(told.filter((n) => n.event === 'escalation')).toHaveLength(2);
  });
});

/** Lets simulated time pass an hour at a time until the status is as wanted (at most `days`). */
async function advanceUntil(handle: WorkflowHandle, accept: (s: PatchStatus) => boolean, what: string, days = 30): Promise<PatchStatus> {
  let last: PatchStatus | undefined;
  for (let hour = 0; hour < days * 24; hour++) {
    last = await handle.query(statusQuery);
    if (accept(last)) return last;
    await env.sleep('1 hour');
  }
  throw new Error(`never reached ${what} in ${days} simulated days; last status: ${JSON.stringify(last)}`);
}

describe('feedback during monitoring, in simulated time', () => {
  it('halts the monitoring window for the operator, who rolls every changed host back', async () => {
    const packages = [{ name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6', source: 'openssh' }];
    const hosts = [
      testAsset('mon-lab-1', { environment: 'lab', packages }),
      testAsset('mon-pilot-1', { environment: 'pilot', packages }),
      testAsset('mon-web-1', { packages }),
    ];
    await upsertAssets(
      pool,
      hosts.map((h) => AssetSchema.parse(h)),
    );
    const handle = await openPatch('sim-monitoring-rollback');
    await until(handle, (s) => s.awaiting === 'reviews', 'peer review');
    for (const reviewer of [rita, remy]) {
      await execute(handle, reviewUpdate, { actor: reviewer, verdict: 'approve', comment: 'ok' });
    }
    await until(handle, (s) => s.awaiting === 'decision', 'the approval');
    await execute(handle, decideUpdate, { actor: carl, decision: 'approve', comment: 'go' });

    // lab, pilot and its bake, the waves and their bakes, verification: a day or two of simulated time
    const monitoring = await advanceUntil(handle, (s) => s.phase === 'monitoring', 'monitoring');
    expect(monitoring.state).toBe('running');
    await execute(handle, feedbackUpdate, { actor: opal, severity: 'high', message: 'sshd refuses keys since the update' });
    const halted = await until(handle, (s) => s.state === 'halted', 'the halt');
    expect(halted).toMatchObject({ phase: 'monitoring', awaiting: 'operator', halt: { phase: 'monitoring', decidedBy: 'operator' } });
    expect(halted.halt!.reason).toContain('sshd refuses keys');

    await execute(handle, rolloutUpdate, { actor: opal, action: 'rollback', comment: 'keys broken' });
    const due = await advanceUntil(handle, (s) => s.awaiting === 'postmortem', 'the postmortem');
    expect(due.phase).toBe('postmortem');
    await execute(handle, postmortemUpdate, { actor: opal, lessonsLearned: 'test sshd keys in the lab', actions: ['add a key test'] });
    const closed = await handle.result();
    expect(closed).toMatchObject({ outcome: 'rolled-back', state: 'done', phase: 'completed' });
    await saveHistory(handle, 'rollout-monitoring-feedback-rolled-back');
    expect(closed.actions.map((a) => a.action)).toEqual(['rollback']);
    const rows = (
      await pool.query("SELECT asset_id, status FROM deployment_hosts WHERE patch_id = 'sim-monitoring-rollback' ORDER BY asset_id")
    ).rows;
    expect(rows.filter((r) => r.asset_id.startsWith('mon-'))).toEqual([
      { asset_id: 'mon-lab-1', status: 'rolled-back' },
      { asset_id: 'mon-pilot-1', status: 'rolled-back' },
      { asset_id: 'mon-web-1', status: 'rolled-back' },
    ]);
  });
});
