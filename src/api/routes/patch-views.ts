/**
 * Read-only views of patches answered by Temporal itself: the listing from the visibility store
 * (the patch search attributes), and an auditor's timeline from the workflow history.
 */
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import { z } from 'zod';
import { PHASES, STATES, workflowIdFor } from '../../domain/patch';
import type { ApiDeps } from '../deps';
import { badRequest, isWorkflowNotFound, notFound } from '../errors';
import { HistoryEntry, renderTimeline } from '../history-timeline';
import { fetchEveryRun } from '../workflow-runs';
import { decodePageToken, encodePageToken, listQuery, PAGE_TOKEN, PatchListItem, toListItem } from '../patch-list';
import { defineRoute, type RouteSpec } from '../route';
import { AdvisoryId } from '../../domain/patch-requests';
import { PatchIdParam } from '../schemas';

const ListQuery = z.strictObject({
  phase: z.enum(PHASES).optional(),
  state: z.enum(STATES).optional(),
  priority: z.coerce.number().int().min(1).max(4).optional(),
  emergency: z.enum(['true', 'false']).optional(),
  advisory: AdvisoryId.optional().describe('patches that include this advisory'),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  pageToken: z
    .string()
    .max(8192)
    .regex(PAGE_TOKEN, 'the nextPageToken of the previous page, as given')
    .optional()
    .describe('the nextPageToken of the previous page (same filters)'),
});

const PatchPage = z.object({
  patches: z.array(PatchListItem),
  nextPageToken: z.string().nullable().describe('pass as pageToken for the next page; null on the last one'),
});

export function patchViewRoutes(deps: ApiDeps): RouteSpec[] {
  const { namespace, loadedDataConverter } = deps.temporal.options;

  return [
    defineRoute({
      method: 'get',
      path: '/v1/patches',
      summary: 'Patches, filtered by their search attributes, newest first (Temporal visibility; eventually consistent)',
      access: 'authenticated',
      query: ListQuery,
      responses: { 200: { description: 'a page of patches', schema: PatchPage } },
      handler: async ({ query }) => {
        const { limit, pageToken, emergency, ...filters } = query;
        const visibilityQuery = listQuery({ ...filters, emergency: emergency === undefined ? undefined : emergency === 'true' });
        const nextPageToken = pageToken === undefined ? undefined : decodePageToken(pageToken, visibilityQuery);
        if (pageToken !== undefined && !nextPageToken) {
          throw badRequest('pageToken is not a nextPageToken of this listing (same filters)', { pageToken });
        }
        const response = await deps.temporal.workflowService.listWorkflowExecutions({
          namespace,
          query: visibilityQuery,
          pageSize: limit,
          nextPageToken,
        });
        const patches = await Promise.all(
          (response.executions ?? []).map(async (raw) => toListItem(await executionInfoFromRaw(raw, loadedDataConverter, raw, namespace))),
        );
        const next = response.nextPageToken;
        return { body: { patches, nextPageToken: next && next.length > 0 ? encodePageToken(next, visibilityQuery) : null } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/patches/:id/history',
      summary: "A patch's timeline from its Temporal workflow history (every run): who did what, when, in which phase",
      access: ['auditor', 'admin'],
      // a long patch has many runs and pages of history
      timeoutMs: 30_000,
      temporalMs: 25_000,
      params: PatchIdParam,
      responses: {
        200: { description: 'the timeline, oldest first', schema: z.array(HistoryEntry) },
        404: { description: 'no such patch' },
      },
      handler: async ({ params }) => {
        try {
          return { body: renderTimeline(...(await fetchEveryRun(deps.temporal, workflowIdFor(params.id)))) };
        } catch (err) {
          if (isWorkflowNotFound(err)) {
            throw notFound(`No patch ${params.id}`);
          }
          throw err;
        }
      },
    }),
  ];
}
