/**
 * A patch that lives long enough to outgrow one history: thousands of decisions over the API.
 * The workflow continues as new with its whole state, the server never terminates it, the status
 * keeps every decision, and the auditor's history lists them all across the runs, in order.
 */
import type { History } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchEveryRun } from '../../src/api/workflow-runs';
import { testAsset } from '../helpers/assets';
import { saveHistory } from '../helpers/histories';
import { patchStatusReader } from '../helpers/patch-status';
import { logger, startTestStack, type TestStack } from '../helpers/servers';

const ADVISORY = 'PF-LONG-0001-1';
const PAIRS = 1500;
let stack: TestStack;
const token: Record<string, string> = {};

beforeAll(async () => {
  stack = await startTestStack();
  for (const [name, roles] of Object.entries({ opal: ['operator'], rita: ['reviewer'], carl: ['approver'], aude: ['auditor'] })) {
    token[name] = await stack.user(name, roles);
  }
  const osv = {
    id: ADVISORY,
    modified: '2026-11-01T00:00:00Z',
    summary: 'longsrc: a flaw for the long-patch test',
    affected: [
      {
        package: { ecosystem: 'Ubuntu:22.04:LTS', name: 'longsrc' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0-1ubuntu2' }] }],
      },
    ],
  };
  expect((await stack.call('POST', '/v1/feeds/osv', { token: token.opal, body: osv })).status).toBe(200);
  const packages = [{ name: 'liblong1', source: 'longsrc', version: '1.0-1ubuntu1', arch: 'amd64' }];
  const assets = [testAsset('long-lab-1', { environment: 'lab', packages }), testAsset('long-web-1', { packages })];
  expect((await stack.call('PUT', '/v1/assets', { token: token.opal, body: { assets } })).status).toBe(200);
});
afterAll(async () => {
  await stack?.stop();
});

const { status, until } = patchStatusReader(
  () => stack,
  () => token.aude!,
);

const payloadBytes = (payloads: { data?: Uint8Array | null }[] | null | undefined) =>
  (payloads ?? []).reduce((n, p) => n + (p.data?.length ?? 0), 0);

/** The history bytes of each accepted `decide` update: its input and its result. */
function decisionBytes(history: History): number[] {
  const events = history.events ?? [];
  const results = new Map(
    events
      .filter((e) => e.workflowExecutionUpdateCompletedEventAttributes)
      .map((e) => {
        const a = e.workflowExecutionUpdateCompletedEventAttributes!;
        return [a.meta?.updateId, payloadBytes(a.outcome?.success?.payloads)] as const;
      }),
  );
  return events
    .filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'decide')
    .map((e) => {
      const a = e.workflowExecutionUpdateAcceptedEventAttributes!;
      return payloadBytes(a.acceptedRequest!.input!.args!.payloads) + (results.get(a.acceptedRequest!.meta?.updateId) ?? 0);
    });
}

describe('a patch with thousands of decisions', () => {
  it(`takes ${PAIRS} hold/resume pairs, continues as new, keeps every decision and lists them across runs`, async () => {
    const opened = await stack.call('POST', '/v1/patches', { token: token.opal, body: { advisoryIds: [ADVISORY], emergency: true } });
    expect(opened.status).toBe(201);
    const id: string = opened.body.id;
    await until(id, (s) => s.awaiting === 'reviews');
    const reviewed = await stack.call('POST', `/v1/patches/${id}/reviews`, {
      token: token.rita,
      body: { verdict: 'approve', comment: 'fine' },
    });
    expect(reviewed.status).toBe(200);
    await until(id, (s) => s.phase === 'approval' && s.awaiting === 'decision');

    const started = Date.now();
    for (let i = 0; i < PAIRS; i++) {
      for (const decision of ['hold', 'resume']) {
        const res = await stack.call('POST', `/v1/patches/${id}/decision`, {
          token: token.carl,
          body: { decision, comment: `${decision} ${i + 1}` },
        });
        // under load the status read after the update may miss its deadline: the API then answers
        // 503 saying the decision was recorded (`applied: yes`), which the count below checks
        const recorded = res.status === 200 || (res.status === 503 && res.body.error?.details?.applied === 'yes');
        expect(recorded, JSON.stringify(res.body)).toBe(true);
      }
    }
    const decidingMs = Date.now() - started;

    const final = await status(id);
    expect(final).toMatchObject({ phase: 'approval', state: 'waiting', hold: null });
    expect(final.decisions).toHaveLength(2 * PAIRS);
    expect(final.decisions.map((d: { comment: string }) => d.comment).slice(-2)).toEqual([`hold ${PAIRS}`, `resume ${PAIRS}`]);

    const runs = await fetchEveryRun(stack.client, `patch-${id}`);
    expect(runs.length).toBeGreaterThan(1);
    const events = runs.map((h) => h.events?.length ?? 0);
    for (const count of events) expect(count).toBeLessThan(10_000);
    for (const run of runs.slice(0, -1)) expect(run.events!.at(-1)!.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();

    // each decision costs the same bytes of history, the first as the thousandth
    const bytes = runs.flatMap(decisionBytes);
    expect(bytes).toHaveLength(2 * PAIRS);
    const holds = new Set(bytes.filter((_, i) => i % 2 === 0).map((b, i) => b - String(i + 1).length));
    expect(holds.size).toBe(1);

    // the auditor's timeline: every decision, in order, across the runs
    const timeline = (await stack.call('GET', `/v1/patches/${id}/history`, { token: token.aude })).body;
    const decided = timeline.filter((e: { type: string }) => e.type === 'update:decide');
    expect(decided).toHaveLength(2 * PAIRS);
    expect(decided.map((e: { details: { comment: string } }) => e.details.comment)).toEqual(
      final.decisions.map((d: { comment: string }) => d.comment),
    );
    expect(new Set(timeline.map((e: { run: number }) => e.run)).size).toBe(runs.length);
    expect(timeline.filter((e: { type: string }) => e.type === 'continued-as-new')).toHaveLength(runs.length - 1);

    logger.info(
      { pairs: PAIRS, runs: runs.length, eventsPerRun: events, bytesPerHold: bytes[0], bytesPerResume: bytes[1], decidingMs },
      'a patch with thousands of decisions',
    );

    const handle = stack.client.workflow.getHandle(`patch-${id}`);
    const firstRunId = runs[0]!.events![0]!.workflowExecutionStartedEventAttributes!.firstExecutionRunId!;
    await saveHistory(stack.client.workflow.getHandle(`patch-${id}`, firstRunId), 'patch-continued-as-new');
    expect(
      (await stack.call('POST', `/v1/patches/${id}/decision`, { token: token.carl, body: { decision: 'cancel', comment: 'done' } })).status,
    ).toBe(200);
    expect(await handle.result()).toMatchObject({ outcome: 'cancelled' });
    await saveHistory(handle, 'patch-continued-then-cancelled');
  }, 600_000);
});
