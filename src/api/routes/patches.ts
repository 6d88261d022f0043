import crypto from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { z } from 'zod';
import type { Actor, PatchRequest } from '../../domain/patch';
import { workflowIdFor } from '../../domain/patch';
import { statusQuery } from '../../workflows/definitions';
import { patchLifecycle } from '../../workflows/patch-lifecycle';
import { PatchAdvisories, PatchEmergency, PatchId, PatchPhase } from '../../workflows/search-attributes';
import type { ApiDeps } from '../deps';
import { badRequest, notFound } from '../errors';
import { defineRoute, type RouteSpec } from '../route';
import { CreatedPatch, CreatePatchRequest, PatchIdParam, PatchStatus } from '../schemas';

/** A readable, sortable patch id: the UTC date and 8 random hex digits, e.g. `20261122-9f2c01ab`. */
function newPatchId(now: Date): string {
  return `${now.toISOString().slice(0, 10).replace(/-/g, '')}-${crypto.randomBytes(4).toString('hex')}`;
}

export function patchRoutes(deps: ApiDeps): RouteSpec[] {
  async function startPatch(body: z.output<typeof CreatePatchRequest>, actor: Actor) {
    for (;;) {
      const now = new Date();
      const request: PatchRequest = {
        id: newPatchId(now),
        title: body.title ?? `Remediate ${body.advisoryIds.join(', ')}`,
        advisoryIds: body.advisoryIds,
        emergency: body.emergency,
        strategy: body.strategy,
        settings: body.settings,
        requestedBy: actor,
        requestedAt: now.toISOString(),
      };
      try {
        const handle = await deps.temporal.workflow.start(patchLifecycle, {
          taskQueue: deps.taskQueue,
          workflowId: workflowIdFor(request.id),
          args: [request],
          typedSearchAttributes: [
            { key: PatchId, value: request.id },
            { key: PatchPhase, value: 'assessment' },
            { key: PatchEmergency, value: request.emergency },
            { key: PatchAdvisories, value: request.advisoryIds },
          ],
        });
        return { id: request.id, workflowId: handle.workflowId };
      } catch (err) {
        // 32 random bits a day make a clash rare; on one, draw again.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    }
  }

  return [
    defineRoute({
      method: 'post',
      path: '/v1/patches',
      summary: 'Open a patch: starts its patchLifecycle workflow',
      access: ['operator'],
      body: CreatePatchRequest,
      responses: { 201: { description: 'started', schema: CreatedPatch } },
      handler: async ({ body, user }) => {
        const { rows } = await deps.pool.query<{ id: string }>('SELECT id FROM advisories WHERE id = ANY($1)', [body.advisoryIds]);
        const unknown = body.advisoryIds.filter((id) => !rows.some((r) => r.id === id));
        if (unknown.length > 0) {
          throw badRequest(`Unknown advisories: ${unknown.join(', ')} (import them with POST /v1/feeds/osv first)`, {
            unknownAdvisories: unknown,
          });
        }
        const created = await startPatch(body, { id: user.id, name: user.name, roles: user.roles });
        deps.logger.info({ patch: created.id, by: user.name }, 'patch started');
        return { status: 201, body: created, headers: { Location: `/v1/patches/${created.id}` } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/patches/:id',
      summary: "A patch's status, answered by its workflow",
      access: 'authenticated',
      params: PatchIdParam,
      responses: { 200: { description: 'status', schema: PatchStatus }, 404: { description: 'no such patch' } },
      handler: async ({ params }) => {
        try {
          const status = await deps.temporal.workflow.getHandle(workflowIdFor(params.id)).query(statusQuery);
          return { body: status };
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw notFound(`No patch ${params.id}`);
          throw err;
        }
      },
    }),
  ];
}
