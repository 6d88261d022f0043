/**
 * A patch's Temporal history as an auditor reads it (`GET /v1/patches/:id/history`): who opened
 * the patch, every human decision (Workflow Updates carry the actor), every phase change,
 * activity and timer, and how the workflow closed. Pure: the input is the history of each run as
 * the server returns it (`fetchHistory()`) or as `historyFromJSON` reads a recorded one, oldest
 * run first: a patch that continued as new is one story over several runs.
 *
 * Workflow task events and markers are bookkeeping of the SDK and are left out; any event this
 * module has no rule for is kept under its own name in kebab case, so nothing is hidden.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils';
import { z } from 'zod';

/** One row of the timeline. */
export const HistoryEntry = z.object({
  run: z.number().int().describe('the run of the workflow, from 1: a long patch continues as new and its story goes on in the next run'),
  eventId: z.number().int().describe('the history event id, to find it in the Temporal Web UI or `temporal workflow show`'),
  time: z.string(),
  type: z.string().describe('patch-opened, phase, update:<name>, update-completed:<name>, activity-scheduled, ...'),
  actor: z.string().nullable().describe('the user behind the event (requester, update actor), a client identity, or null for the system'),
  phase: z.string().nullable().describe('the patch phase current at that point (after the change, on a `phase` row)'),
  details: z.record(z.string(), z.unknown()),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

type HistoryEvent = NonNullable<History['events']>[number];
type Payloads = { payloads?: Payload[] | null } | null | undefined;
type Payload = { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null };
type Failure = { message?: string | null; applicationFailureInfo?: { type?: string | null } | null } | null | undefined;
/** Long (protobufjs), number or decimal string: event ids and timestamp seconds. */
type LongLike = { toNumber(): number } | number | string | null | undefined;

const PHASE_ATTRIBUTE = 'PatchPhase';
/** Set by `patched()`: the SDK's own versioning bookkeeping, as internal as its markers. */
const INTERNAL_ATTRIBUTES = new Set(['TemporalChangeVersion']);
/** Decoded payloads larger than this (as JSON) are shown as their size only. */
export const DETAIL_LIMIT = 4096;
/** The SDK's bookkeeping: workflow tasks and markers (`patched()` writes one per change). */
const SKIPPED = new Set([
  'workflowTaskScheduled',
  'workflowTaskStarted',
  'workflowTaskCompleted',
  'workflowTaskFailed',
  'workflowTaskTimedOut',
  'markerRecorded',
]);

/** The timeline over every run of the workflow, oldest first. */
export function renderTimeline(...runs: History[]): HistoryEntry[] {
  const rows: HistoryEntry[] = [];
  let phase: string | null = null;
  runs.forEach((history, i) => {
    const run = renderRun(history, i + 1, phase);
    rows.push(...run.rows);
    phase = run.phase;
  });
  return rows;
}

function renderRun(history: History, run: number, phaseBefore: string | null): { rows: HistoryEntry[]; phase: string | null } {
  const rows: HistoryEntry[] = [];
  let phase = phaseBefore;
  const activities = new Map<number, { activityType: string; activityId: string }>();
  const timers = new Map<number, { timerId: string; duration: string | null }>();
  const updates = new Map<number, { name: string; actor: string | null }>();

  for (const event of history.events ?? []) {
    const kind = attributesKind(event);
    if (!kind || SKIPPED.has(kind)) continue;
    const eventId = toNumber(event.eventId) ?? 0;
    const push = (type: string, actor: string | null, details: Record<string, unknown>) =>
      rows.push({ run, eventId, time: eventTime(event), type, actor, phase, details });

    switch (kind) {
      case 'workflowExecutionStarted': {
        const a = event.workflowExecutionStartedEventAttributes!;
        // a later run's input is the state the previous run handed over: not news to an auditor
        if (a.continuedExecutionRunId) {
          push('run-started', null, { continuedFrom: a.continuedExecutionRunId });
          break;
        }
        const initial = decodeFields(a.searchAttributes?.indexedFields)[PHASE_ATTRIBUTE];
        phase = typeof initial === 'string' ? initial : null;
        const request = asRecord(firstArg(a.input));
        const { requestedBy, ...rest } = request ?? {};
        push('patch-opened', nameOf(requestedBy), { workflowType: a.workflowType?.name ?? null, ...rest });
        break;
      }
      case 'upsertWorkflowSearchAttributes': {
        const fields = decodeFields(event.upsertWorkflowSearchAttributesEventAttributes!.searchAttributes?.indexedFields);
        const to = fields[PHASE_ATTRIBUTE];
        // the workflow may set the phase it is already in (with its state); that changes nothing
        if (typeof to === 'string' && to !== phase) {
          const from = phase;
          phase = to;
          push('phase', null, { from, to });
        }
        const others = Object.entries(fields).filter(([key]) => key !== PHASE_ATTRIBUTE && !INTERNAL_ATTRIBUTES.has(key));
        if (others.length > 0) push('search-attributes', null, Object.fromEntries(others));
        break;
      }
      case 'activityTaskScheduled': {
        const a = event.activityTaskScheduledEventAttributes!;
        const activity = { activityType: a.activityType?.name ?? 'unknown', activityId: a.activityId ?? '' };
        activities.set(eventId, activity);
        push('activity-scheduled', null, { ...activity, input: summarize(decodeArgs(a.input)) });
        break;
      }
      case 'activityTaskStarted': {
        // written when the attempt ends, so `attempt` counts the retries
        const a = event.activityTaskStartedEventAttributes!;
        const activity = activityOf(activities, a.scheduledEventId);
        push('activity-started', null, { ...activity, attempt: a.attempt ?? 1, worker: a.identity || null });
        break;
      }
      case 'activityTaskCompleted': {
        const a = event.activityTaskCompletedEventAttributes!;
        push('activity-completed', null, { ...activityOf(activities, a.scheduledEventId), result: summarize(decodeArgs(a.result)) });
        break;
      }
      case 'activityTaskFailed': {
        const a = event.activityTaskFailedEventAttributes!;
        push('activity-failed', null, { ...activityOf(activities, a.scheduledEventId), ...failureDetails(a.failure) });
        break;
      }
      case 'activityTaskTimedOut': {
        const a = event.activityTaskTimedOutEventAttributes!;
        push('activity-failed', null, { ...activityOf(activities, a.scheduledEventId), timedOut: true, ...failureDetails(a.failure) });
        break;
      }
      case 'activityTaskCancelRequested':
        push('activity-cancel-requested', null, activityOf(activities, event.activityTaskCancelRequestedEventAttributes!.scheduledEventId));
        break;
      case 'activityTaskCanceled':
        push('activity-canceled', null, activityOf(activities, event.activityTaskCanceledEventAttributes!.scheduledEventId));
        break;
      case 'timerStarted': {
        const a = event.timerStartedEventAttributes!;
        const durationMs = durationToMs(a.startToFireTimeout);
        const timer = { timerId: a.timerId ?? '', duration: durationMs === undefined ? null : formatDuration(durationMs) };
        timers.set(eventId, timer);
        push('timer-started', null, { ...timer, durationMs: durationMs ?? null });
        break;
      }
      case 'timerFired':
      case 'timerCanceled': {
        const a = (event.timerFiredEventAttributes ?? event.timerCanceledEventAttributes)!;
        const started = timers.get(toNumber(a.startedEventId) ?? -1);
        const type = kind === 'timerFired' ? 'timer-fired' : 'timer-canceled';
        push(type, null, { timerId: a.timerId ?? '', duration: started?.duration ?? null });
        break;
      }
      case 'workflowExecutionUpdateAccepted': {
        const input = event.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest?.input;
        const name = input?.name ?? 'unknown';
        const arg = firstArg(input?.args);
        const record = asRecord(arg);
        const actor = nameOf(record?.actor);
        updates.set(eventId, { name, actor });
        const { actor: _actor, ...payload } = record ?? {};
        push(`update:${name}`, actor, record ? payload : { args: decodeArgs(input?.args) });
        break;
      }
      case 'workflowExecutionUpdateCompleted': {
        const a = event.workflowExecutionUpdateCompletedEventAttributes!;
        const update = updates.get(toNumber(a.acceptedEventId) ?? -1);
        const outcome = a.outcome?.failure
          ? { outcome: 'failure', message: a.outcome.failure.message ?? '' }
          : { outcome: 'success', result: summarize(decodeArgs(a.outcome?.success)) };
        push(`update-completed:${update?.name ?? 'unknown'}`, update?.actor ?? null, outcome);
        break;
      }
      case 'workflowExecutionCancelRequested': {
        const a = event.workflowExecutionCancelRequestedEventAttributes!;
        push('cancel-requested', a.identity || null, a.cause ? { cause: a.cause } : {});
        break;
      }
      case 'workflowExecutionCompleted': {
        const result = asRecord(firstArg(event.workflowExecutionCompletedEventAttributes!.result));
        push('patch-closed', null, { outcome: result?.outcome ?? null });
        break;
      }
      case 'workflowExecutionCanceled':
        push('patch-canceled', null, {});
        break;
      case 'workflowExecutionTerminated': {
        const a = event.workflowExecutionTerminatedEventAttributes!;
        push('patch-terminated', a.identity || null, { reason: a.reason ?? '' });
        break;
      }
      case 'workflowExecutionFailed':
        push('patch-failed', null, failureDetails(event.workflowExecutionFailedEventAttributes!.failure));
        break;
      case 'workflowExecutionTimedOut':
        push('patch-timed-out', null, {});
        break;
      case 'workflowExecutionContinuedAsNew': {
        const a = event.workflowExecutionContinuedAsNewEventAttributes!;
        push('continued-as-new', null, { newExecutionRunId: a.newExecutionRunId ?? null, reason: 'a long history goes on in a new run' });
        break;
      }
      default: {
        const attributes = (event as Record<string, unknown>)[`${kind}EventAttributes`] as Record<string, unknown>;
        const identity = typeof attributes.identity === 'string' && attributes.identity ? attributes.identity : null;
        push(kebab(kind), identity, asRecord(plain(attributes)) ?? {});
      }
    }
  }
  return { rows, phase };
}

/** `workflowExecutionStarted` for an event carrying `workflowExecutionStartedEventAttributes`. */
function attributesKind(event: HistoryEvent): string | undefined {
  for (const [key, value] of Object.entries(event)) {
    if (value != null && key.endsWith('EventAttributes')) return key.slice(0, -'EventAttributes'.length);
  }
  return undefined;
}

const kebab = (camel: string) => camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function toNumber(value: LongLike): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Number(value);
  return value.toNumber();
}

function durationToMs(duration: { seconds?: LongLike; nanos?: number | null } | null | undefined): number | undefined {
  if (!duration) return undefined;
  return (toNumber(duration.seconds) ?? 0) * 1000 + Math.floor((duration.nanos ?? 0) / 1e6);
}

/** Exact, in the largest unit that divides it: `90s`, `7d`, `1500ms` (never rounded). */
function formatDuration(millis: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  for (const [unit, size] of units) if (millis > 0 && millis % size === 0) return `${millis / size}${unit}`;
  return `${millis}ms`;
}

function eventTime(event: HistoryEvent): string {
  const millis = durationToMs(event.eventTime);
  return millis === undefined ? '' : new Date(millis).toISOString();
}

/** A payload's value; one the default converter cannot read is described by its encoding and size. */
function decodePayload(payload: Payload): unknown {
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    const encoding = payload.metadata?.encoding ? Buffer.from(payload.metadata.encoding).toString() : null;
    return { undecodable: true, encoding, bytes: payload.data?.length ?? 0 };
  }
}

/** The arguments (or result) of a call: one value as itself, several as an array, none as null. */
function decodeArgs(payloads: Payloads): unknown {
  const values = (payloads?.payloads ?? []).map(decodePayload);
  return values.length === 0 ? null : values.length === 1 ? values[0] : values;
}

const firstArg = (payloads: Payloads): unknown => {
  const first = payloads?.payloads?.[0];
  return first ? decodePayload(first) : undefined;
};

function decodeFields(fields: Record<string, Payload> | null | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields ?? {}).map(([key, payload]) => [key, decodePayload(payload)]));
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** An Actor's name (`{id, name, roles}`), or null. */
function nameOf(actor: unknown): string | null {
  const name = asRecord(actor)?.name;
  return typeof name === 'string' ? name : null;
}

function activityOf(activities: Map<number, { activityType: string; activityId: string }>, scheduledEventId: LongLike) {
  return activities.get(toNumber(scheduledEventId) ?? -1) ?? { activityType: 'unknown', activityId: '' };
}

function failureDetails(failure: Failure): Record<string, unknown> {
  return { message: failure?.message ?? '', failureType: failure?.applicationFailureInfo?.type || null };
}

/** A decoded value, or its size only when it is larger than DETAIL_LIMIT as JSON. */
export function summarize(value: unknown): unknown {
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
  return bytes > DETAIL_LIMIT ? { truncated: true, bytes } : value;
}

/**
 * Event attributes of a kind this module has no rule for, as plain JSON: payloads decoded,
 * 64-bit integers as numbers, bytes as base64, empty fields dropped.
 */
function plain(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  if (typeof record.toNumber === 'function' && 'low' in record && 'high' in record) return (record as { toNumber(): number }).toNumber();
  if (record.data instanceof Uint8Array && record.metadata) return summarize(decodePayload(record));
  if (Array.isArray(record.payloads) && Object.keys(record).length === 1) return summarize(decodeArgs(record));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(record)) {
    const converted = plain(inner);
    if (converted !== undefined && !(Array.isArray(converted) && converted.length === 0)) out[key] = converted;
  }
  return out;
}
