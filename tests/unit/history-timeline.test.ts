/**
 * The auditor's timeline (src/api/history-timeline.ts) on the recorded histories of
 * tests/histories, and on hand-written events for what no recorded history holds yet (updates,
 * timers, failures, terminations).
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON, payloadToJSON } from '@temporalio/common/lib/proto-utils';
import { describe, expect, it } from 'vitest';
import { DETAIL_LIMIT, renderTimeline, type HistoryEntry } from '../../src/api/history-timeline';
import { savedHistories } from '../helpers/histories';

// the patches' own histories (the rollout's wave and rollback children have their own types)
const recorded = savedHistories().filter(
  (h) => h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name === 'patchLifecycle',
);
// a run that continues another starts with the state handed over, not with the opening request
const firstRuns = recorded.filter((h) => !h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId);
const byName = (name: string) => {
  const found = recorded.find((h) => h.name === name);
  if (!found) throw new Error(`no recorded history ${name}`);
  return renderTimeline(found.history);
};
const types = (rows: HistoryEntry[]) => rows.map((r) => r.type);

describe('timeline of the recorded histories', () => {
  it.each(firstRuns.map((h) => [h.name, h.history] as const))(
    '%s: opened by the requester, phases chained, no SDK bookkeeping',
    (_name, history) => {
      const rows = renderTimeline(history);
      const input = defaultPayloadConverter.fromPayload<{ requestedBy: { name: string }; advisoryIds: string[] }>(
        history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!,
      );
      expect(rows[0]).toMatchObject({ eventId: 1, type: 'patch-opened', actor: input.requestedBy.name, phase: 'assessment' });
      expect(rows[0]!.details).toMatchObject({ workflowType: 'patchLifecycle', advisoryIds: input.advisoryIds });
      expect(rows[0]!.details).not.toHaveProperty('requestedBy');

      // workflow tasks and markers are the SDK's bookkeeping; TemporalChangeVersion is patched()'s
      expect(types(rows).filter((t) => /workflow-task|marker/.test(t))).toEqual([]);
      expect(JSON.stringify(rows)).not.toContain('TemporalChangeVersion');

      // in history order; only an upsert of the phase with other attributes gives two rows
      const ids = rows.map((r) => r.eventId);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      rows.forEach((row, i) => {
        if (i > 0 && row.eventId === rows[i - 1]!.eventId) expect([rows[i - 1]!.type, row.type]).toEqual(['phase', 'search-attributes']);
      });
      for (const row of rows) expect(Number.isNaN(Date.parse(row.time))).toBe(false);

      // each row carries the phase of its moment; a phase row moves it from the previous one
      rows.forEach((row, i) => {
        if (i === 0) return;
        const before = rows[i - 1]!.phase;
        if (row.type === 'phase') {
          expect(row.details).toEqual({ from: before, to: row.phase });
          expect(row.phase).not.toBe(before);
        } else expect(row.phase).toBe(before);
      });
    },
  );

  it('not-applicable: the assess activity with its input and result, then the closing phase and outcome', () => {
    const rows = byName('patch-not-applicable');
    const scheduled = rows.find((r) => r.type === 'activity-scheduled')!;
    expect(scheduled).toMatchObject({
      actor: null,
      phase: 'assessment',
      details: { activityType: 'assess', input: { advisoryIds: ['DSA-3029-1'] } },
    });
    const completed = rows.find((r) => r.type === 'activity-completed')!;
    expect(completed.details).toMatchObject({
      activityType: 'assess',
      activityId: scheduled.details.activityId,
      result: { affectedAssets: 0 },
    });
    expect(rows.find((r) => r.type === 'activity-started')!.details).toMatchObject({ activityType: 'assess', attempt: 1 });
    const last = rows.at(-1)!;
    expect(last).toMatchObject({ type: 'patch-closed', phase: 'completed', details: { outcome: 'not-applicable' } });
    const phaseRow = rows.findIndex((r) => r.type === 'phase' && r.details.to === 'completed');
    expect(phaseRow).toBeGreaterThan(rows.indexOf(completed));
  });

  it('assessed, then cancelled: priority set by assessment, phase peer-review, cancellation by a client identity', () => {
    const rows = byName('patch-assessed-then-cancelled');
    const result = rows.find((r) => r.type === 'activity-completed')!.details.result as { priority: number };
    expect(rows.find((r) => r.type === 'search-attributes')!.details).toEqual({ PatchPriority: result.priority });
    expect(rows.find((r) => r.type === 'phase')!).toMatchObject({
      phase: 'peer-review',
      details: { from: 'assessment', to: 'peer-review' },
    });
    const cancel = rows.find((r) => r.type === 'cancel-requested')!;
    expect(cancel.phase).toBe('peer-review');
    expect(cancel.actor).toMatch(/@/);
  });

  it('a patch over two runs: the first ends continued-as-new, the next starts from it, phases and runs chained', () => {
    const first = recorded.find((h) => h.name === 'patch-continued-as-new')!.history;
    const last = recorded.find((h) => h.name === 'patch-continued-then-cancelled')!.history;
    const rows = renderTimeline(first, last);
    const end = rows.findIndex((r) => r.type === 'continued-as-new');
    expect(end).toBe(rows.filter((r) => r.run === 1).length - 1);
    expect(rows[end + 1]).toMatchObject({ run: 2, eventId: 1, type: 'run-started', phase: 'approval' });
    expect(rows[end + 1]!.details).not.toHaveProperty('status');
    expect(rows.filter((r) => r.type === 'update:decide').length).toBeGreaterThan(200);
    expect(rows.at(-1)).toMatchObject({ run: 2, type: 'patch-closed', details: { outcome: 'cancelled' } });
  });

  it('cancelled during assessment: the request arrives while assess runs, and the patch closes cancelled', () => {
    const rows = byName('patch-cancelled');
    const cancel = rows.findIndex((r) => r.type === 'cancel-requested');
    expect(rows[cancel]!.phase).toBe('assessment');
    expect(rows.findIndex((r) => r.type === 'activity-scheduled' && r.details.activityType === 'assess')).toBeLessThan(cancel);
    expect(rows.at(-1)).toMatchObject({ type: 'patch-closed', phase: 'completed', details: { outcome: 'cancelled' } });
  });
});

// ---- hand-written events, in the proto JSON form of the recorded files ----

const json = (value: unknown) => ({ payloads: [payloadToJSON(defaultPayloadConverter.toPayload(value))] });
const actor = (name: string, roles: string[]) => ({ id: `u_${name}`, name, roles });
let nextId = 0;
const at = (n: number) => new Date(Date.UTC(2026, 10, 22, 10, 0, n)).toISOString();
function event(attributes: string, fields: Record<string, unknown>) {
  nextId += 1;
  return { eventId: String(nextId), eventTime: at(nextId), [`${attributes}EventAttributes`]: fields };
}

function syntheticHistory() {
  nextId = 0;
  const started = event('workflowExecutionStarted', {
    workflowType: { name: 'patchLifecycle' },
    input: json({
      id: 'p1',
      title: 'sudo',
      advisoryIds: ['USN-1'],
      emergency: false,
      settings: {},
      requestedBy: actor('olga', ['operator']),
      requestedAt: at(0),
    }),
    searchAttributes: { indexedFields: { PatchPhase: payloadToJSON(defaultPayloadConverter.toPayload('assessment')) } },
  });
  const task = event('workflowTaskCompleted', { scheduledEventId: '1', startedEventId: '1' });
  const marker = event('markerRecorded', { markerName: 'core_patch' });
  const toReview = event('upsertWorkflowSearchAttributes', {
    searchAttributes: {
      indexedFields: {
        PatchPhase: payloadToJSON(defaultPayloadConverter.toPayload('peer-review')),
        PatchState: payloadToJSON(defaultPayloadConverter.toPayload('waiting')),
      },
    },
  });
  const accepted = event('workflowExecutionUpdateAccepted', {
    protocolInstanceId: 'u-1',
    acceptedRequestMessageId: 'u-1/request',
    acceptedRequestSequencingEventId: '3',
    acceptedRequest: {
      meta: { updateId: 'u-1', identity: 'api@host' },
      input: { name: 'review', args: json({ actor: actor('rita', ['reviewer']), verdict: 'approve', comment: 'tested on staging' }) },
    },
  });
  const completed = event('workflowExecutionUpdateCompleted', {
    meta: { updateId: 'u-1' },
    acceptedEventId: accepted.eventId,
    outcome: { success: json({ phase: 'peer-review', reviews: 1 }) },
  });
  const accepted2 = event('workflowExecutionUpdateAccepted', {
    protocolInstanceId: 'u-2',
    acceptedRequest: {
      meta: { updateId: 'u-2' },
      input: { name: 'decide', args: json({ actor: actor('carl', ['approver']), decision: 'hold', comment: 'freeze' }) },
    },
  });
  const failed = event('workflowExecutionUpdateCompleted', {
    meta: { updateId: 'u-2' },
    acceptedEventId: accepted2.eventId,
    outcome: { failure: { message: 'the board is not quorate' } },
  });
  const timer = event('timerStarted', { timerId: '1', startToFireTimeout: '90s' });
  const fired = event('timerFired', { timerId: '1', startedEventId: timer.eventId });
  const timer2 = event('timerStarted', { timerId: '2', startToFireTimeout: '604800s' });
  const canceledTimer = event('timerCanceled', { timerId: '2', startedEventId: timer2.eventId });
  const deploy = event('activityTaskScheduled', {
    activityId: '7',
    activityType: { name: 'deployHost' },
    input: json({ assetIds: Array.from({ length: 2000 }, (_, i) => `web-${i}`) }),
  });
  const deployFailed = event('activityTaskFailed', {
    scheduledEventId: deploy.eventId,
    failure: { message: 'disk full', applicationFailureInfo: { type: 'DiskFull' } },
  });
  const verify = event('activityTaskScheduled', {
    activityId: '8',
    activityType: { name: 'verifyHost' },
    input: json({ assetId: 'web-1' }),
  });
  const verifyTimedOut = event('activityTaskTimedOut', {
    scheduledEventId: verify.eventId,
    failure: { message: 'activity StartToClose timeout' },
  });
  const signaled = event('workflowExecutionSignaled', { signalName: 'nudge', input: json({ why: 'late' }), identity: 'cli@laptop' });
  const odd = event('workflowExecutionSignaled', {
    signalName: 'sealed',
    input: {
      payloads: [
        { metadata: { encoding: Buffer.from('binary/encrypted').toString('base64') }, data: Buffer.from('xyz').toString('base64') },
      ],
    },
  });
  const terminated = event('workflowExecutionTerminated', { reason: 'stuck host', identity: 'admin@ops' });
  return historyFromJSON({
    events: [
      started,
      task,
      marker,
      toReview,
      accepted,
      completed,
      accepted2,
      failed,
      timer,
      fired,
      timer2,
      canceledTimer,
      deploy,
      deployFailed,
      verify,
      verifyTimedOut,
      signaled,
      odd,
      terminated,
    ],
  });
}

describe('timeline of hand-written events', () => {
  const rows = renderTimeline(syntheticHistory());
  const row = (type: string, nth = 0) => rows.filter((r) => r.type === type)[nth]!;

  it('shows each accepted update with its actor and payload, and its outcome under the same actor', () => {
    expect(row('update:review')).toMatchObject({
      actor: 'rita',
      phase: 'peer-review',
      details: { verdict: 'approve', comment: 'tested on staging' },
    });
    expect(row('update:review').details).not.toHaveProperty('actor');
    expect(row('update-completed:review')).toMatchObject({
      actor: 'rita',
      details: { outcome: 'success', result: { phase: 'peer-review', reviews: 1 } },
    });
    expect(row('update:decide')).toMatchObject({ actor: 'carl', details: { decision: 'hold', comment: 'freeze' } });
    expect(row('update-completed:decide')).toMatchObject({
      actor: 'carl',
      details: { outcome: 'failure', message: 'the board is not quorate' },
    });
  });

  it('renders a phase and the other patch attributes of one upsert as two rows', () => {
    expect(row('phase')).toMatchObject({ phase: 'peer-review', details: { from: 'assessment', to: 'peer-review' } });
    expect(row('search-attributes')).toMatchObject({ phase: 'peer-review', details: { PatchState: 'waiting' } });
  });

  it('shows timers with their durations, fired or cancelled', () => {
    expect(row('timer-started')).toMatchObject({ actor: null, details: { timerId: '1', duration: '90s', durationMs: 90_000 } });
    expect(row('timer-fired').details).toEqual({ timerId: '1', duration: '90s' });
    expect(row('timer-started', 1).details).toMatchObject({ duration: '7d', durationMs: 604_800_000 });
    expect(row('timer-canceled').details).toEqual({ timerId: '2', duration: '7d' });
  });

  it('shows failed and timed-out activities by type, and a large input as its size only', () => {
    const scheduled = row('activity-scheduled');
    expect(scheduled.details).toMatchObject({ activityType: 'deployHost', input: { truncated: true } });
    expect((scheduled.details.input as { bytes: number }).bytes).toBeGreaterThan(DETAIL_LIMIT);
    expect(row('activity-failed').details).toEqual({
      activityType: 'deployHost',
      activityId: '7',
      message: 'disk full',
      failureType: 'DiskFull',
    });
    expect(row('activity-failed', 1).details).toMatchObject({
      activityType: 'verifyHost',
      timedOut: true,
      message: 'activity StartToClose timeout',
    });
  });

  it('keeps events without a rule under their own name, payloads decoded, and says so when one cannot be', () => {
    expect(row('workflow-execution-signaled')).toMatchObject({
      actor: 'cli@laptop',
      details: { signalName: 'nudge', input: { why: 'late' } },
    });
    expect(row('workflow-execution-signaled', 1).details.input).toEqual({ undecodable: true, encoding: 'binary/encrypted', bytes: 3 });
  });

  it('leaves out workflow tasks and markers, and ends with who terminated the patch and why', () => {
    expect(types(rows).some((t) => /workflow-task|marker/.test(t))).toBe(false);
    expect(rows.at(-1)).toMatchObject({
      type: 'patch-terminated',
      actor: 'admin@ops',
      phase: 'peer-review',
      details: { reason: 'stuck host' },
    });
    expect(rows[0]).toMatchObject({ type: 'patch-opened', actor: 'olga', time: '2026-11-22T10:00:01.000Z' });
  });
});
