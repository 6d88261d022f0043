/**
 * `GET /v1/patches` through Temporal's visibility API: the filters become a list filter on the
 * patch search attributes (what `temporal workflow list --query` takes), and each execution
 * becomes a list item from its search attributes and memo.
 */
import crypto from 'node:crypto';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { z } from 'zod';
import { PHASES, STATES, type Phase, type State } from '../domain/patch';
import { PatchAdvisories, PatchEmergency, PatchId, PatchPhase, PatchPriority, PatchState } from '../workflows/search-attributes';

export const PATCH_WORKFLOW_TYPE = 'patchLifecycle';

export interface PatchListFilters {
  phase?: Phase;
  state?: State;
  priority?: number;
  emergency?: boolean;
  advisory?: string;
}

/**
 * A string literal of the list filter language. Callers pass values zod has already limited to
 * safe characters; escaping the quote and the backslash as well keeps any value a literal.
 */
export function quote(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * The visibility query of a listing. Only patch workflows, and only the latest run of each (a
 * run that continued as new is the same patch).
 */
export function listQuery(filters: PatchListFilters): string {
  const terms = [`WorkflowType = ${quote(PATCH_WORKFLOW_TYPE)}`, `ExecutionStatus != 'ContinuedAsNew'`];
  if (filters.phase !== undefined) terms.push(`${PatchPhase.name} = ${quote(checked(filters.phase, PHASES))}`);
  if (filters.state !== undefined) terms.push(`${PatchState.name} = ${quote(checked(filters.state, STATES))}`);
  if (filters.priority !== undefined) terms.push(`${PatchPriority.name} = ${integer(filters.priority)}`);
  if (filters.emergency !== undefined) terms.push(`${PatchEmergency.name} = ${filters.emergency ? 'true' : 'false'}`);
  // on a KeywordList, `=` means "contains"
  if (filters.advisory !== undefined) terms.push(`${PatchAdvisories.name} = ${quote(filters.advisory)}`);
  return terms.join(' AND ');
}

function checked<T extends string>(value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) throw new TypeError(`not an allowed value: ${value}`);
  return value;
}

function integer(value: number): string {
  if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer: ${value}`);
  return String(value);
}

/**
 * The API's page token: the visibility store's nextPageToken in base64url, then a checksum that
 * binds it to the listing's query (`<token>.<16 hex>`). A token of another listing, or no token
 * at all, is refused before it reaches the server, which would answer some of them with an
 * error the SDK retries for about 20 s (UNKNOWN) and take others as a position in this listing.
 * An integrity check against mistakes, not a secret: whoever may list may see every patch.
 */
export const PAGE_TOKEN = /^[A-Za-z0-9_-]+\.[0-9a-f]{16}$/;

const checksum = (raw: Uint8Array, query: string) =>
  crypto.createHash('sha256').update(query).update('\n').update(raw).digest('hex').slice(0, 16);

export function encodePageToken(raw: Uint8Array, query: string): string {
  return `${Buffer.from(raw).toString('base64url')}.${checksum(raw, query)}`;
}

/** The visibility token inside an API page token, or undefined when it is not one of this query. */
export function decodePageToken(token: string, query: string): Buffer | undefined {
  if (!PAGE_TOKEN.test(token)) return undefined;
  const [data, sum] = token.split('.') as [string, string];
  const raw = Buffer.from(data, 'base64url');
  return crypto.timingSafeEqual(Buffer.from(checksum(raw, query)), Buffer.from(sum)) ? raw : undefined;
}

/** One patch of `GET /v1/patches`, read from the visibility store (search attributes and memo). */
export const PatchListItem = z.object({
  id: z.string(),
  workflowId: z.string(),
  phase: z.enum(PHASES).nullable(),
  state: z.enum(STATES).nullable(),
  priority: z.number().int().nullable(),
  emergency: z.boolean().nullable(),
  advisoryIds: z.array(z.string()),
  title: z.string().nullable(),
  requestedBy: z.string().nullable(),
  startedAt: z.string(),
  closedAt: z.string().nullable(),
  executionStatus: z.string().describe('running, completed, failed, cancelled, terminated, timed-out'),
});
export type PatchListItem = z.infer<typeof PatchListItem>;

type ListedExecution = Pick<WorkflowExecutionInfo, 'workflowId' | 'typedSearchAttributes' | 'memo' | 'startTime' | 'closeTime' | 'status'>;

/** One listed execution (as the SDK decodes it) as a patch summary. */
export function toListItem(info: ListedExecution): PatchListItem {
  const attrs = info.typedSearchAttributes;
  const memo = info.memo ?? {};
  return {
    id: attrs.get(PatchId) ?? info.workflowId.replace(/^patch-/, ''),
    workflowId: info.workflowId,
    // the patch workflow is the only writer of these two, always with one of the known values
    phase: (attrs.get(PatchPhase) as Phase | undefined) ?? null,
    state: (attrs.get(PatchState) as State | undefined) ?? null,
    priority: attrs.get(PatchPriority) ?? null,
    emergency: attrs.get(PatchEmergency) ?? null,
    advisoryIds: attrs.get(PatchAdvisories) ?? [],
    title: typeof memo.title === 'string' ? memo.title : null,
    requestedBy: requesterName(memo.requestedBy),
    startedAt: info.startTime.toISOString(),
    closedAt: info.closeTime?.toISOString() ?? null,
    executionStatus: info.status.name.toLowerCase().replace(/_/g, '-'),
  };
}

/** The memo may hold the requester's name or their Actor (`{id, name, roles}`); the list shows the name. */
function requesterName(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { name?: unknown }).name === 'string') {
    return (value as { name: string }).name;
  }
  return null;
}
