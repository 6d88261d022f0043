/**
 * Governance end to end over HTTP on the real servers, with five people: an operator, two
 * reviewers, an approver and an auditor (plus people holding two roles, to prove that the
 * person rules hold where the role rules would not). Every refusal is checked to leave no
 * event in the workflow's history.
 */
import http from 'node:http';
import type net from 'node:net';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssetInput } from '../../src/domain/asset';
import { reviewUpdate } from '../../src/workflows/definitions';
import { freePort } from '../../src/runtime/ports';
import { saveHistory } from '../helpers/histories';
import { testAsset } from '../helpers/assets';
import { patchStatusReader } from '../helpers/patch-status';
import { startTestStack, type TestStack } from '../helpers/servers';
import { executeSigned } from '../helpers/signed-updates';
import { listedBothWays } from '../helpers/visibility';

let stack: TestStack;
const token: Record<string, string> = {};
const ADVISORY = 'PF-GOV-0001-1';
const received: { event: string; text: string; patchId: string }[] = [];
let receiver: http.Server;

const asset = (id: string, overrides: Partial<AssetInput> = {}) =>
  testAsset(id, { packages: [{ name: 'libgov1', source: 'govsrc', version: '1.0-1ubuntu1', arch: 'amd64' }], ...overrides });

beforeAll(async () => {
  stack = await startTestStack();
  for (const [name, roles] of Object.entries({
    opal: ['operator'],
    rita: ['reviewer'],
    remy: ['reviewer'],
    carl: ['approver'],
    aude: ['auditor'],
    // the person rules, where the role alone would allow it
    owen: ['operator', 'reviewer', 'approver'],
    dana: ['reviewer', 'approver'],
  })) {
    token[name] = await stack.user(name, roles);
  }
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
  const policy = (await stack.call('GET', '/v1/policy', { token: stack.adminToken })).body.policy;
  const url = `http://127.0.0.1:${(receiver.address() as net.AddressInfo).port}/hook`;
  // a second receiver that is down: notifications to it fail, the patches do not
  // the receivers are on loopback, an internal address: allowed by name (docs/security.md, "Webhooks")
  policy.notifications = {
    webhooks: [{ url }, { url: `http://127.0.0.1:${await freePort()}/down` }],
    allowedInternalHosts: ['127.0.0.1'],
  };
  expect((await stack.call('PUT', '/v1/policy', { token: stack.adminToken, body: policy })).status).toBe(200);

  const osv = {
    id: ADVISORY,
    modified: '2026-11-01T00:00:00Z',
    summary: 'govsrc: a flaw for the governance tests',
    affected: [
      {
        package: { ecosystem: 'Ubuntu:22.04:LTS', name: 'govsrc' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0-1ubuntu2' }] }],
      },
    ],
  };
  expect((await stack.call('POST', '/v1/feeds/osv', { token: token.opal, body: osv })).status).toBe(200);
  const assets = [asset('gov-lab-1', { environment: 'lab' }), asset('gov-web-1'), asset('gov-web-2')];
  expect((await stack.call('PUT', '/v1/assets', { token: token.opal, body: { assets } })).status).toBe(200);
});
afterAll(async () => {
  await stack?.stop();
  receiver?.close();
});

async function open(by = 'opal', body: Record<string, unknown> = {}): Promise<string> {
  const res = await stack.call('POST', '/v1/patches', { token: token[by], body: { advisoryIds: [ADVISORY], ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await until(res.body.id, (s) => s.awaiting === 'reviews');
  return res.body.id;
}

const { status, until } = patchStatusReader(
  () => stack,
  () => token.aude!,
);

const review = (id: string, who: string, verdict: 'approve' | 'reject', extra: Record<string, unknown> = {}) =>
  stack.call('POST', `/v1/patches/${id}/reviews`, { token: token[who], body: { verdict, comment: `${who} checked it`, ...extra } });
const decide = (id: string, who: string, decision: string, extra: Record<string, unknown> = {}) =>
  stack.call('POST', `/v1/patches/${id}/decision`, { token: token[who], body: { decision, comment: `${who}: ${decision}`, ...extra } });

/** The history's length once nothing is in flight (no activity pending, no workflow task). */
async function settledHistoryLength(id: string): Promise<number> {
  const handle = stack.client.workflow.getHandle(`patch-${id}`);
  let previous = -1;
  for (let i = 0; i < 100; i++) {
    const { raw } = await handle.describe();
    const length = (await handle.fetchHistory()).events!.length;
    if (length === previous && (raw.pendingActivities ?? []).length === 0 && !raw.pendingWorkflowTask) return length;
    previous = length;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the history kept growing');
}

async function expectRefused(id: string, attempt: () => Promise<{ status: number; body: any }>, httpStatus: number, message: string) {
  const before = await settledHistoryLength(id);
  const res = await attempt();
  expect(res.status, JSON.stringify(res.body)).toBe(httpStatus);
  expect(res.body.error.message).toContain(message);
  expect(await settledHistoryLength(id)).toBe(before);
}

async function approveToTesting(id: string, reviewers = ['rita', 'remy']) {
  for (const who of reviewers) expect((await review(id, who, 'approve')).status).toBe(200);
  await until(id, (s) => s.phase === 'approval' && s.awaiting === 'decision');
  expect((await decide(id, 'carl', 'approve')).status).toBe(200);
  return until(id, (s) => s.phase === 'testing');
}

describe('segregation of duties', () => {
  it('refuses every decision that breaks a rule, with 403 or 409, and leaves no event in the history', async () => {
    const id = await open('owen');
    await expectRefused(id, () => review(id, 'opal', 'approve'), 403, 'reviewer');
    await expectRefused(id, () => review(id, 'owen', 'approve'), 403, 'owen requested this patch and cannot review it');
    await expectRefused(id, () => decide(id, 'carl', 'approve'), 409, 'There is no approval to decide in phase peer-review');
    await expectRefused(id, () => decide(id, 'rita', 'approve'), 403, 'approver');

    expect((await review(id, 'dana', 'approve')).status).toBe(200);
    await expectRefused(id, () => review(id, 'dana', 'approve'), 409, 'dana has already reviewed this evaluation');
    expect((await review(id, 'rita', 'approve')).status).toBe(200);
    await until(id, (s) => s.phase === 'approval' && s.awaiting === 'decision');

    await expectRefused(id, () => review(id, 'remy', 'approve'), 409, 'Reviews are not being taken in phase approval');
    await expectRefused(id, () => decide(id, 'dana', 'approve'), 403, 'dana reviewed this patch and cannot decide on it');
    await expectRefused(id, () => decide(id, 'owen', 'approve'), 403, 'owen requested this patch and cannot decide on it');
    await expectRefused(id, () => decide(id, 'carl', 'resume'), 409, 'The patch is not on hold');
    await expectRefused(id, () => decide(id, 'carl', 'deploy-anyway'), 409, 'deploy-anyway');
    await expectRefused(
      id,
      () => stack.call('POST', `/v1/patches/${id}/decision`, { token: token.carl, body: { decision: 'approve' } }),
      400,
      'comment',
    );

    // the workflow enforces the rules itself, whatever client sends the update (even one holding the API's key)
    const handle = stack.client.workflow.getHandle(`patch-${id}`);
    const before = await settledHistoryLength(id);
    const direct = executeSigned(handle, reviewUpdate, {
      actor: { id: 'x', name: 'mallory', roles: ['operator'] },
      verdict: 'approve',
      comment: 'sneaky',
    });
    await expect(direct).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(direct).rejects.toMatchObject({ cause: { type: 'Forbidden' } });
    expect(await settledHistoryLength(id)).toBe(before);

    expect((await decide(id, 'carl', 'reject')).status).toBe(200);
    const closed = await until(id, (s) => s.state === 'done');
    expect(closed).toMatchObject({ outcome: 'rejected', phase: 'completed' });
    const late = await decide(id, 'carl', 'approve');
    expect(late.status).toBe(409);
    await saveHistory(handle, 'governance-refusals-then-rejected');
  });
});

describe('the path to testing', () => {
  it('takes two reviews and an approval, records who did what, and the history names every actor', async () => {
    const id = await open();
    const first = await status(id);
    expect(first).toMatchObject({
      phase: 'peer-review',
      state: 'waiting',
      awaiting: 'reviews',
      priority: 3,
      governance: { fastTrack: false, reviewersRequired: 2 },
      targets: { lab: 1, pilot: 0, production: 2 },
    });
    expect((await review(id, 'rita', 'approve', { priority: 2, comment: 'reachable from the DMZ' })).status).toBe(200);
    expect((await review(id, 'remy', 'approve', { priority: 2, comment: 'agree, used by billing' })).status).toBe(200);
    const inApproval = await until(id, (s) => s.phase === 'approval');
    expect(inApproval.priority).toBe(2);
    expect(inApproval.priorityReasons.at(-1)).toContain('Changed from 3 to 2 at peer review by rita ("reachable from the DMZ"), remy');
    const listed = await listedBothWays(stack, token.aude!, 'approval');
    expect(listed.api).toEqual(listed.cli);
    expect(listed.api).toContain(`patch-${id}`);

    expect((await decide(id, 'carl', 'approve', { bypassMaintenanceWindows: true })).status).toBe(200);
    const testing = await until(id, (s) => s.phase === 'testing');
    expect(testing).toMatchObject({ state: 'running', approval: { by: 'carl', priority: 2, bypassMaintenanceWindows: true } });
    expect(testing.approval.scopeDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(testing.reviews.map((r: any) => [r.reviewer, r.verdict, r.round])).toEqual([
      ['rita', 'approve', 1],
      ['remy', 'approve', 1],
    ]);

    const history = await stack.call('GET', `/v1/patches/${id}/history`, { token: token.aude });
    expect(history.status).toBe(200);
    const decisions = history.body.filter((row: any) => String(row.type).startsWith('update:'));
    expect(decisions.map((row: any) => [row.type, row.actor])).toEqual([
      ['update:review', 'rita'],
      ['update:review', 'remy'],
      ['update:decide', 'carl'],
    ]);
    expect(history.body[0]).toMatchObject({ type: 'patch-opened', actor: 'opal' });
    expect(history.body.filter((row: any) => row.type === 'phase').map((row: any) => row.details.to)).toEqual(
      expect.arrayContaining(['peer-review', 'approval', 'testing']),
    );

    expect((await stack.call('POST', `/v1/patches/${id}/cancel`, { token: token.opal, body: { reason: 'window moved' } })).status).toBe(
      200,
    );
    expect(await until(id, (s) => s.state === 'done')).toMatchObject({
      outcome: 'cancelled',
      cancelled: { by: 'opal', comment: 'window moved' },
    });
    await saveHistory(stack.client.workflow.getHandle(`patch-${id}`), 'governance-approved-then-cancelled');
  });

  it('sends the patch back to approval when a new affected asset appears after approval', async () => {
    // the lab host affected again (a lab test of an earlier patch may have fixed it)
    expect(
      (await stack.call('PUT', '/v1/assets', { token: token.opal, body: { assets: [asset('gov-lab-1', { environment: 'lab' })] } })).status,
    ).toBe(200);
    const id = await open('opal', { settings: { scopeRecheckInterval: '300ms' } });
    const approved = await approveToTesting(id);
    const digest = approved.approval.scopeDigest;

    const added = await stack.call('PUT', '/v1/assets', { token: token.opal, body: { assets: [asset('gov-web-3')] } });
    expect(added.status).toBe(200);
    const back = await until(id, (s) => s.phase === 'approval', 'approval again');
    expect(back.approval).toBeNull();
    expect(back.approvalInvalidated.reasons).toEqual([
      'The affected assets changed: approved lab 1, pilot 0, production 2; now lab 1, pilot 0, production 3',
    ]);
    expect(back.targets.production).toBe(3);
    // the notice is an activity that follows the phase change: wait for it
    await until(
      id,
      () =>
        received.some((n) => n.patchId === id && n.event === 'approval-requested' && n.text.includes('again: The affected assets changed')),
      'the notice',
    );

    expect((await decide(id, 'carl', 'approve')).status).toBe(200);
    const again = await until(id, (s) => s.phase === 'testing');
    expect(again.approval.scopeDigest).not.toBe(digest);
    expect((await decide(id, 'carl', 'cancel')).status).toBe(200);
    await until(id, (s) => s.outcome === 'cancelled');
    await stack.pool.query("DELETE FROM assets WHERE id = 'gov-web-3'");
  });
  it('evaluates the scope again while the lab waits for an approver, and sends the patch back to approval when it changes', async () => {
    // no lab host affected: the lab halts for an approver's decision
    const fixedLab = asset('gov-lab-1', {
      environment: 'lab',
      packages: [{ name: 'libgov1', source: 'govsrc', version: '1.0-1ubuntu2', arch: 'amd64' }],
    });
    expect((await stack.call('PUT', '/v1/assets', { token: token.opal, body: { assets: [fixedLab] } })).status).toBe(200);
    const id = await open('opal', { settings: { scopeRecheckInterval: '300ms' } });
    await approveToTesting(id);
    const halted = await until(id, (s) => s.awaiting === 'lab-decision', 'the lab decision');
    expect(halted.halt.reason).toContain('No lab host is affected');

    expect((await stack.call('PUT', '/v1/assets', { token: token.opal, body: { assets: [asset('gov-web-4')] } })).status).toBe(200);
    const back = await until(id, (s) => s.phase === 'approval', 'approval again');
    expect(back).toMatchObject({ awaiting: 'decision', state: 'waiting', halt: null, approval: null });
    expect(back.approvalInvalidated.reasons).toEqual([
      'The affected assets changed: approved lab 0, pilot 0, production 2; now lab 0, pilot 0, production 3',
    ]);

    expect((await decide(id, 'carl', 'cancel')).status).toBe(200);
    await until(id, (s) => s.outcome === 'cancelled');
    await saveHistory(stack.client.workflow.getHandle(`patch-${id}`), 'governance-scope-changed-during-lab-decision');
    await stack.pool.query("DELETE FROM assets WHERE id = 'gov-web-4'");
    expect(
      (await stack.call('PUT', '/v1/assets', { token: token.opal, body: { assets: [asset('gov-lab-1', { environment: 'lab' })] } })).status,
    ).toBe(200);
  });
});

describe('fast track, hold, revise, cancel, escalation', () => {
  it('takes one review for an emergency, still needs an approver, and holds and resumes', async () => {
    const id = await open('opal', { emergency: true });
    expect((await status(id)).governance).toMatchObject({ fastTrack: true, reviewersRequired: 1, reviewTimeout: '1h' });
    expect((await review(id, 'rita', 'approve')).status).toBe(200);
    await until(id, (s) => s.phase === 'approval');

    expect((await decide(id, 'carl', 'hold', { comment: 'waiting for the vendor hotfix' })).status).toBe(200);
    const held = await until(id, (s) => s.state === 'on-hold');
    expect(held.hold).toMatchObject({ by: 'carl', comment: 'waiting for the vendor hotfix' });
    expect((await decide(id, 'carl', 'approve')).body.error.message).toContain('on hold');
    expect((await decide(id, 'carl', 'resume')).status).toBe(200);
    await until(id, (s) => s.state === 'waiting' && s.hold === null);
    expect((await decide(id, 'carl', 'approve')).status).toBe(200);
    await until(id, (s) => s.phase === 'testing');
    await until(
      id,
      () => received.some((n) => n.patchId === id && n.event === 'hold' && n.text.includes('vendor hotfix')),
      'the hold notice',
    );
    expect((await stack.call('POST', `/v1/patches/${id}/cancel`, { token: token.carl, body: { reason: 'superseded' } })).status).toBe(200);
    await until(id, (s) => s.outcome === 'cancelled');
    await saveHistory(stack.client.workflow.getHandle(`patch-${id}`), 'governance-emergency-hold-resume');
  });

  it('writes the same few bytes of history for every decision, however many came before', async () => {
    const id = await open('opal', { emergency: true });
    expect((await review(id, 'rita', 'approve')).status).toBe(200);
    await until(id, (s) => s.phase === 'approval');
    const PAIRS = 25;
    for (let i = 0; i < PAIRS; i++) {
      const held = await decide(id, 'carl', 'hold', { comment: 'waiting for the vendor hotfix' });
      expect(held.body).toMatchObject({ state: 'on-hold', hold: { by: 'carl' } }); // the API still answers the whole status
      expect((await decide(id, 'carl', 'resume', { comment: 'hotfix is in' })).status).toBe(200);
    }
    expect((await status(id)).decisions).toHaveLength(2 * PAIRS);

    // the bytes each `decide` update put into the history: its input and its result
    const events = (await stack.client.workflow.getHandle(`patch-${id}`).fetchHistory()).events ?? [];
    const bytes = (payloads: { data?: Uint8Array | null }[] | null | undefined) =>
      (payloads ?? []).reduce((n, p) => n + (p.data?.length ?? 0), 0);
    const inputs = events
      .filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'decide')
      .map((e) => bytes(e.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!.args!.payloads));
    const results = events
      .filter((e) => e.workflowExecutionUpdateCompletedEventAttributes)
      .map((e) => bytes(e.workflowExecutionUpdateCompletedEventAttributes!.outcome!.success!.payloads));
    expect(inputs).toHaveLength(2 * PAIRS);
    expect(results).toHaveLength(2 * PAIRS + 1); // and the review
    const decisions = results.slice(1);
    expect(Math.max(...decisions)).toBeLessThan(100);
    expect(new Set(inputs.filter((_, i) => i % 2 === 0)).size).toBe(1); // every hold the same size…
    expect(decisions[decisions.length - 1]).toBe(decisions[1]); // …and the last resume's result as large as the first
    expect((await decide(id, 'carl', 'cancel')).status).toBe(200);
  });

  it('returns a rejected evaluation to the operator, who revises it; reviews start again', async () => {
    const id = await open();
    expect((await review(id, 'rita', 'reject', { comment: 'the lab host is not a mirror of production' })).status).toBe(200);
    const returned = await until(id, (s) => s.awaiting === 'revision');
    expect(returned.returned).toMatchObject({ by: 'rita', comment: 'the lab host is not a mirror of production' });
    await expectRefused(id, () => review(id, 'remy', 'approve'), 409, 'waits for the operator to revise or cancel');
    await expectRefused(
      id,
      () => stack.call('POST', `/v1/patches/${id}/revise`, { token: token.rita, body: { comment: 'x' } }),
      403,
      'operator',
    );

    const revised = await stack.call('POST', `/v1/patches/${id}/revise`, {
      token: token.opal,
      body: { comment: 'added a second lab host', settings: { maxConcurrent: 5 } },
    });
    expect(revised.status).toBe(200);
    const round2 = await until(id, (s) => s.revision === 2 && s.awaiting === 'reviews');
    expect(round2).toMatchObject({ phase: 'peer-review', returned: null, settings: { maxConcurrent: 5 }, plan: { maxConcurrent: 5 } });
    expect((await review(id, 'rita', 'approve')).status).toBe(200); // a new round: rita may review again
    expect((await review(id, 'remy', 'approve')).status).toBe(200);
    await until(id, (s) => s.phase === 'approval');
    expect((await stack.call('POST', `/v1/patches/${id}/cancel`, { token: token.rita, body: { reason: 'no' } })).status).toBe(403);
    expect(
      (await stack.call('POST', `/v1/patches/${id}/cancel`, { token: token.opal, body: { reason: 'replaced by a bigger patch' } })).status,
    ).toBe(200);
    expect(await until(id, (s) => s.state === 'done')).toMatchObject({ outcome: 'cancelled', phase: 'completed' });
    expect((await stack.call('POST', `/v1/patches/${id}/cancel`, { token: token.opal, body: { reason: 'again' } })).status).toBe(409);
    await saveHistory(stack.client.workflow.getHandle(`patch-${id}`), 'governance-rejected-revised-cancelled');
  });

  it('reminds and then escalates late reviews, with a receiver down', async () => {
    const id = await open('opal', { settings: { reviewTimeout: '400ms' } });
    const late = await until(id, (s) => s.lateness.some((l: any) => l.level === 'escalation'), 'an escalation');
    expect(late.lateness[0]).toMatchObject({ phase: 'peer-review', level: 'reminder' });
    expect(late.lateness[1].message).toContain('Reviews are late: no complete review after 2 × 400ms');
    await until(id, () => received.some((n) => n.patchId === id && n.event === 'escalation'), 'the escalation notice');
    const notices = received.filter((n) => n.patchId === id).map((n) => n.event);
    expect(notices.slice(0, 2)).toEqual(['review-requested', 'review-requested']);
    expect(received.find((n) => n.patchId === id)!.text).toMatch(/^\[patch .+\] ".+" needs 2 review\(s\)$/);
    // the receiver that is down changed nothing: the patch still takes its reviews
    expect((await review(id, 'rita', 'approve')).status).toBe(200);
    expect((await review(id, 'remy', 'approve')).status).toBe(200);
    await until(id, (s) => s.phase === 'approval');
    expect((await decide(id, 'carl', 'cancel')).status).toBe(200);
    await until(id, (s) => s.outcome === 'cancelled');
  });
});
