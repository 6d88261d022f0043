/**
 * Decisions that cannot be forged (docs/security.md): updates sent straight to Temporal with a
 * valid-looking actor, but unsigned, wrongly signed, signed by an unknown key, replayed from the
 * history or taken from another patch, are refused by the validators and leave no event in the
 * history; the same decisions through the API are recorded. Then key rotation with `trust`.
 */
import crypto from 'node:crypto';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type UpdateDefinition } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor, PatchRequest } from '../../src/domain/patch';
import { newSigningKey } from '../../src/signing/keys';
import { decideUpdate, reviewUpdate, statusQuery, trustUpdate } from '../../src/workflows/definitions';
import { patchLifecycle } from '../../src/workflows/patch/lifecycle';
import { testAsset } from '../helpers/assets';
import { saveHistory } from '../helpers/histories';
import { patchStatusReader } from '../helpers/patch-status';
import { startTestStack, type TestStack } from '../helpers/servers';
import { TEST_KEYS } from '../helpers/keys';
import { executeSigned, patchIdOf, signedInput } from '../helpers/signed-updates';

let stack: TestStack;
const token: Record<string, string> = {};
const actor: Record<string, Actor> = {};
const ADVISORY = 'PF-SIG-0001-1';

beforeAll(async () => {
  stack = await startTestStack();
  for (const [name, roles] of Object.entries({
    opal: ['operator'],
    rita: ['reviewer'],
    remy: ['reviewer'],
    carl: ['approver'],
    aude: ['auditor'],
  })) {
    token[name] = await stack.user(name, roles);
  }
  const { rows } = await stack.pool.query<Actor>('SELECT id, name, roles FROM users');
  for (const row of rows) actor[row.name] = { id: row.id, name: row.name, roles: row.roles };
  const osv = {
    id: ADVISORY,
    modified: '2026-11-01T00:00:00Z',
    summary: 'sigsrc: a flaw for the signed-update tests',
    affected: [
      {
        package: { ecosystem: 'Ubuntu:22.04:LTS', name: 'sigsrc' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0-1ubuntu2' }] }],
      },
    ],
  };
  expect((await stack.call('POST', '/v1/feeds/osv', { token: token.opal, body: osv })).status).toBe(200);
  const packages = [{ name: 'libsig1', source: 'sigsrc', version: '1.0-1ubuntu1', arch: 'amd64' }];
  const assets = [testAsset('sig-lab-1', { environment: 'lab', packages }), testAsset('sig-web-1', { packages })];
  expect((await stack.call('PUT', '/v1/assets', { token: token.opal, body: { assets } })).status).toBe(200);
});
afterAll(async () => {
  await stack?.stop();
});

const handleOf = (id: string) => stack.client.workflow.getHandle(`patch-${id}`);

async function open(): Promise<string> {
  const res = await stack.call('POST', '/v1/patches', { token: token.opal, body: { advisoryIds: [ADVISORY] } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await until(res.body.id, (s) => s.awaiting === 'reviews');
  return res.body.id;
}

const { status, until } = patchStatusReader(
  () => stack,
  () => token.aude!,
);

const review = (id: string, who: string) =>
  stack.call('POST', `/v1/patches/${id}/reviews`, { token: token[who], body: { verdict: 'approve', comment: `${who} checked it` } });
const decide = (id: string, who: string, decision: string) =>
  stack.call('POST', `/v1/patches/${id}/decision`, { token: token[who], body: { decision, comment: `${who}: ${decision}` } });

/** The history once nothing is in flight (no activity pending, no workflow task). */
async function settledHistory(handle: WorkflowHandle) {
  let previous = -1;
  for (let i = 0; i < 100; i++) {
    const { raw } = await handle.describe();
    const events = (await handle.fetchHistory()).events ?? [];
    if (events.length === previous && (raw.pendingActivities ?? []).length === 0 && !raw.pendingWorkflowTask) return events;
    previous = events.length;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the history kept growing');
}

/** Every update the history accepted: its id, name and input as sent. */
async function acceptedUpdates(handle: WorkflowHandle): Promise<{ updateId: string; name: string; input: any }[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.flatMap((e) => {
    const request = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
    if (!request) return [];
    return [
      {
        updateId: request.meta!.updateId!,
        name: request.input!.name!,
        input: defaultPayloadConverter.fromPayload(request.input!.args!.payloads![0]!),
      },
    ];
  });
}

/**
 * Sends `input` straight to Temporal and expects the validator's Forbidden with `message`, no new
 * event in the history (no update accepted or completed with this update's id) and the status
 * unchanged.
 */
async function expectForged<I>(id: string, update: UpdateDefinition<any, [I]>, input: I, message: string) {
  const handle = handleOf(id);
  const before = await settledHistory(handle);
  const statusBefore = await handle.query(statusQuery);
  const updateId = `forged-${crypto.randomUUID()}`;
  const sent = handle.executeUpdate(update, { args: [input], updateId });
  await expect(sent).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
  await expect(sent).rejects.toMatchObject({ cause: { type: 'Forbidden', message: expect.stringContaining(message) } });
  const after = await settledHistory(handle);
  expect(after.length).toBe(before.length);
  const mentions = after.filter((e) => JSON.stringify(e).includes(updateId));
  expect(mentions).toEqual([]);
  expect(await handle.query(statusQuery)).toEqual(statusBefore);
}

/** A signature whose value is wrong in one hex digit. */
function tampered<I extends object>(input: I & { signature: { value: string } }): I {
  const value = input.signature.value;
  return { ...input, signature: { ...input.signature, value: `${value[0] === '0' ? '1' : '0'}${value.slice(1)}` } };
}

describe('forged decisions sent straight to Temporal', () => {
  it('are refused without a trace: unsigned, wrongly signed, unknown key, replayed, for another patch; the API records the same decisions', async () => {
    const a = await open();
    const b = await open();
    const unknownKey = newSigningKey();
    const ritaReview = { actor: actor.rita!, verdict: 'approve' as const, comment: 'looks right' };

    // (a) no signature, (b) a wrong one, (c) one by a key the patch does not trust
    await expectForged(a, reviewUpdate, ritaReview, 'is not signed');
    await expectForged(a, reviewUpdate, tampered(signedInput(a, reviewUpdate, ritaReview)), 'does not match');
    await expectForged(a, reviewUpdate, signedInput(a, reviewUpdate, ritaReview, { key: unknownKey }), 'does not trust');
    // a signature for another update name or an admin's role added after signing
    await expectForged(a, reviewUpdate, signedInput(a, 'decide', ritaReview), 'does not match');
    const signed = signedInput(a, reviewUpdate, ritaReview);
    await expectForged(a, reviewUpdate, { ...signed, actor: { ...signed.actor, name: 'carl' } }, 'does not match');
    expect((await status(a)).reviews).toEqual([]);

    // through the API: recorded, and the history shows the signed input
    expect((await review(a, 'rita')).status).toBe(200);
    const [recorded] = await acceptedUpdates(handleOf(a));
    expect(recorded).toMatchObject({ name: 'review', input: { actor: { name: 'rita' }, signature: { key: expect.any(String) } } });

    // (d) the API's own signed review, replayed from the history; (e) the same, sent to another patch
    await expectForged(a, reviewUpdate, recorded!.input, 'already accepted once');
    await expectForged(b, reviewUpdate, recorded!.input, 'does not match this review update of patch');
    expect((await status(b)).reviews).toEqual([]);

    expect((await review(a, 'remy')).status).toBe(200);
    await until(a, (s) => s.phase === 'approval' && s.awaiting === 'decision');

    // decisions: the same three forgeries, then a replay of a hold the rules would accept again
    const hold = { actor: actor.carl!, decision: 'hold' as const, comment: 'wait for the vendor' };
    await expectForged(a, decideUpdate, hold, 'is not signed');
    await expectForged(a, decideUpdate, tampered(signedInput(a, decideUpdate, hold)), 'does not match');
    await expectForged(a, decideUpdate, signedInput(a, decideUpdate, hold, { key: unknownKey }), 'does not trust');
    expect(await status(a)).toMatchObject({ state: 'waiting', hold: null, decisions: [] });

    expect((await decide(a, 'carl', 'hold')).status).toBe(200);
    expect((await decide(a, 'carl', 'resume')).status).toBe(200);
    const holdSent = (await acceptedUpdates(handleOf(a))).find((u) => u.name === 'decide' && u.input.decision === 'hold')!;
    await expectForged(a, decideUpdate, holdSent.input, 'already accepted once');
    await expectForged(b, decideUpdate, holdSent.input, 'does not match');

    const approved = await decide(a, 'carl', 'approve');
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const testing = await until(a, (s) => s.phase === 'testing');
    expect(testing.decisions.map((d: any) => [d.approver, d.decision])).toEqual([
      ['carl', 'hold'],
      ['carl', 'resume'],
      ['carl', 'approve'],
    ]);
    expect(testing.reviews.map((r: any) => r.reviewer)).toEqual(['rita', 'remy']);

    // the history holds exactly the API's updates
    const updates = await acceptedUpdates(handleOf(a));
    expect(updates.map((u) => [u.name, u.input.actor.name])).toEqual([
      ['review', 'rita'],
      ['review', 'remy'],
      ['decide', 'carl'],
      ['decide', 'carl'],
      ['decide', 'carl'],
    ]);
    expect(new Set(updates.map((u) => u.input.signature.nonce)).size).toBe(5);
    await stack.call('POST', `/v1/patches/${a}/cancel`, { token: token.opal, body: { reason: 'test over' } });
    await stack.call('POST', `/v1/patches/${b}/cancel`, { token: token.opal, body: { reason: 'test over' } });
  });
});

describe('key rotation', () => {
  it('moves a patch to a new key with signed trust updates from an admin, after which the old key is refused', async () => {
    const id = await open();
    const handle = handleOf(id);
    const next = newSigningKey();
    const { rows } = await stack.pool.query<Actor>("SELECT id, name, roles FROM users WHERE 'admin' = ANY(roles) LIMIT 1");
    const admin: Actor = { id: rows[0]!.id, name: rows[0]!.name, roles: rows[0]!.roles };

    // only an admin, through the API, and a valid key list
    const trust = (who: string, keys: string[]) =>
      stack.call('POST', `/v1/patches/${id}/trust`, {
        token: who === 'admin' ? stack.adminToken : token[who],
        body: { keys, comment: 'rotation' },
      });
    expect((await trust('opal', [next.publicKey])).status).toBe(403);
    expect((await trust('admin', ['not-a-key'])).status).toBe(400);

    // the new key is refused until the patch trusts it
    const remyReview = { actor: actor.remy!, verdict: 'approve' as const, comment: 'ok' };
    await expectForged(id, reviewUpdate, signedInput(id, reviewUpdate, remyReview, { key: next }), 'does not trust');
    // a trust update is signed like any other, by an admin
    const both = { actor: admin, keys: [next.publicKey], comment: 'take over' };
    await expectForged(id, trustUpdate, signedInput(id, trustUpdate, both, { key: next }), 'does not trust');
    await expectForged(id, trustUpdate, both, 'is not signed');
    const notAdmin = signedInput(id, trustUpdate, { ...both, actor: actor.opal! });
    await expect(handle.executeUpdate(trustUpdate, { args: [notAdmin] })).rejects.toMatchObject({
      cause: { type: 'Forbidden', message: 'Only an admin changes the keys a patch trusts' },
    });

    // step 1, by the API with its current key (the one it started the patch with): trust both
    const apiKey = await startedWithKey(id);
    expect(apiKey).toBe(TEST_KEYS.updates.publicKey);
    const trusted = await trust('admin', [apiKey!, next.publicKey]);
    expect(trusted.status, JSON.stringify(trusted.body)).toBe(200);
    await executeSignedWith(handle, next, reviewUpdate, remyReview);
    expect((await review(id, 'rita')).status).toBe(200);
    await until(id, (s) => s.phase === 'approval');

    // step 2, with the new key: trust only the new one; the API's old key is refused from then on
    await executeSignedWith(handle, next, trustUpdate, { actor: admin, keys: [next.publicKey], comment: 'old key retired' });
    const refused = await decide(id, 'carl', 'approve');
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('does not trust');
    await executeSignedWith(handle, next, decideUpdate, { actor: actor.carl!, decision: 'reject', comment: 'not this quarter' });
    expect(await handle.result()).toMatchObject({ outcome: 'rejected', decisions: [{ approver: 'carl', decision: 'reject' }] });
    expect((await acceptedUpdates(handle)).map((u) => [u.name, u.input.signature.key === next.publicKey])).toEqual([
      ['trust', false],
      ['review', true],
      ['review', false],
      ['trust', true],
      ['decide', true],
    ]);
    await saveHistory(handle, 'governance-signed-key-rotation');
  });
});

describe('a patch started before signed updates', () => {
  it('has no keys in its request: it takes unsigned updates as before, and cannot be given keys', async () => {
    const request: PatchRequest = {
      id: `legacy-${crypto.randomBytes(3).toString('hex')}`,
      title: 'a patch from before signed updates',
      advisoryIds: [ADVISORY],
      emergency: false,
      settings: {},
      requestedBy: actor.opal!,
      requestedAt: new Date().toISOString(),
    };
    // the start options of the previous version: no trustedKeys
    const handle = await stack.client.workflow.start(patchLifecycle, {
      taskQueue: stack.taskQueue,
      workflowId: `patch-${request.id}`,
      args: [request],
    });
    await until(request.id, (s) => s.awaiting === 'reviews');
    await handle.executeUpdate(reviewUpdate, { args: [{ actor: actor.rita!, verdict: 'approve', comment: 'unsigned, as before' }] });
    expect((await status(request.id)).reviews.map((r: any) => r.reviewer)).toEqual(['rita']);
    const trusted = await stack.call('POST', `/v1/patches/${request.id}/trust`, {
      token: stack.adminToken,
      body: { keys: [newSigningKey().publicKey], comment: 'adopt' },
    });
    expect(trusted.status).toBe(409);
    expect(trusted.body.error.message).toContain('started before signed updates');
    await executeSigned(handle, decideUpdate, { actor: actor.carl!, decision: 'cancel', comment: 'test over' });
  });
});

/** The key the patch's request trusts: the API's (the test run's update key). */
async function startedWithKey(id: string): Promise<string | undefined> {
  const request = (await handleOf(id).fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  return request ? defaultPayloadConverter.fromPayload<PatchRequest>(request).trustedKeys?.[0] : undefined;
}

async function executeSignedWith<I extends object>(
  handle: WorkflowHandle,
  key: ReturnType<typeof newSigningKey>,
  update: UpdateDefinition<any, [I]>,
  input: I,
) {
  return handle.executeUpdate(update, { args: [signedInput(patchIdOf(handle.workflowId), update, input, { key })] });
}
