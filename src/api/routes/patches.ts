import crypto from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import {
  ApplicationFailure,
  isGrpcServiceError,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { z } from 'zod';
import { workflowIdFor, type Actor, type PatchRequest, type UpdateAck } from '../../domain/patch';
import { signUpdate } from '../../domain/signed-update';
import { PatchStatus } from '../../domain/patch-status';
import type { Role } from '../../domain/roles';
import type { User } from '../../db/users';
import { hostCounts } from '../../db/deployments';
import {
  cancelUpdate,
  decideUpdate,
  deferralUpdate,
  exceptionUpdate,
  feedbackUpdate,
  postmortemUpdate,
  REFUSAL_TYPES,
  reviewUpdate,
  reviseUpdate,
  rolloutUpdate,
  statusQuery,
  trustUpdate,
} from '../../workflows/definitions';
import { patchLifecycle } from '../../workflows/patch/lifecycle';
import { patchStartOptions } from '../patch-start';
import type { ApiDeps } from '../deps';
import { ApiError, badRequest, notFound, outageBeforeChange, outageText, unavailable } from '../errors';
import { currentPolicy } from '../../db/policy';
import { refuseExceptionLifetime } from '../../domain/governance';
import { outageOf } from '../unavailable';
import { defineRoute, type RouteSpec } from '../route';
import { COMPLIANT } from '../../domain/deployment';
import {
  CancelRequest,
  CreatePatchRequest,
  DecisionRequest,
  DeferralRequest,
  ExceptionRequest,
  FeedbackRequest,
  PostmortemRequest,
  ReviewRequest,
  RevisionRequest,
  RolloutRequest,
  TrustRequest,
} from '../../domain/patch-requests';
import { CreatedPatch, PatchIdParam } from '../schemas';

/** A readable, sortable patch id: the UTC date and 8 random hex digits, e.g. `20261122-9f2c01ab`. */
function newPatchId(now: Date): string {
  return `${now.toISOString().slice(0, 10).replace(/-/g, '')}-${crypto.randomBytes(4).toString('hex')}`;
}

const actorOf = (user: User): Actor => ({ id: user.id, name: user.name, roles: user.roles });

const REFUSAL_STATUS: Record<string, [number, string]> = {
  [REFUSAL_TYPES.forbidden]: [403, 'forbidden'],
  [REFUSAL_TYPES.conflict]: [409, 'conflict'],
  [REFUSAL_TYPES.invalid]: [400, 'bad_request'],
};

/** How often an update aborted with its workflow task (see below) is sent, and the first pause before sending it again (doubling). */
const UPDATE_ATTEMPTS = 5;
const UPDATE_RETRY_MS = 100;
const GRPC_FAILED_PRECONDITION = 9;

/**
 * The server aborts an update when the workflow task that carried it fails, e.g. when the update
 * closes the workflow while another event (a timer, an activity result) arrives in the same task.
 * Nothing of the update was recorded, so sending it again cannot apply it twice.
 */
function isAbortedWithWorkflowTask(err: unknown): boolean {
  const grpc = err instanceof ServiceError ? err.cause : err;
  return (
    isGrpcServiceError(grpc) &&
    (grpc.code as number) === GRPC_FAILED_PRECONDITION &&
    /workflow task failure/i.test(grpc.details ?? grpc.message)
  );
}

/** Checks a write makes before it changes anything: an outage there changed nothing. */
async function beforeChange<T>(method: string, check: () => Promise<T> | T): Promise<T> {
  try {
    return await check();
  } catch (err) {
    const outage = outageOf(err);
    if (outage) throw outageBeforeChange(outage, method, err);
    throw err;
  }
}

export function patchRoutes(deps: ApiDeps): RouteSpec[] {
  async function ensureAdvisoriesKnown(advisoryIds: string[]) {
    const { rows } = await deps.pool.query<{ id: string }>('SELECT id FROM advisories WHERE id = ANY($1)', [advisoryIds]);
    const unknown = advisoryIds.filter((id) => !rows.some((r) => r.id === id));
    if (unknown.length > 0) {
      throw badRequest(`Unknown advisories: ${unknown.join(', ')} (import them with POST /v1/feeds/osv first)`, {
        unknownAdvisories: unknown,
      });
    }
  }

  /**
   * The workflow's status with the host counts of the deployment records: the workflow does not
   * poll the database for them while its waves run (they change with every host).
   */
  async function currentStatus(patchId: string): Promise<PatchStatus> {
    const [status, hosts] = await Promise.all([
      deps.temporal.workflow.getHandle(workflowIdFor(patchId)).query(statusQuery),
      hostCounts(deps.pool, patchId),
    ]);
    return { ...status, hosts };
  }

  /**
   * Sends a person's decision to the patch's workflow as an update. The workflow's validator is
   * the judge (segregation of duties lives there); its refusals map to 403, 409 or 400. When
   * Temporal does not answer, the decision may or may not have been recorded, and the 503 says so.
   * The input is signed with the API's update key for this patch and this update, now, with a
   * fresh nonce: the workflow accepts nothing else (src/domain/signed-update.ts).
   */
  async function decide<I extends object>(patchId: string, update: UpdateDefinition<UpdateAck, [I]>, input: I): Promise<PatchStatus> {
    const handle = deps.temporal.workflow.getHandle(workflowIdFor(patchId));
    const signed = signUpdate(input, {
      patchId,
      update: update.name,
      secretKey: deps.updateKey.secretKey,
      publicKey: deps.updateKey.publicKey,
      at: Date.now(),
      nonce: crypto.randomBytes(16).toString('hex'),
    });
    try {
      await sendUpdate(handle, patchId, update, signed);
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
        const mapped = REFUSAL_STATUS[err.cause.type ?? ''];
        if (mapped) throw new ApiError(mapped[0], mapped[1], err.cause.message);
      }
      if (err instanceof WorkflowNotFoundError) {
        const closed = await handle.describe().then(
          (d) => d.status.name !== 'RUNNING',
          () => false,
        );
        if (closed) throw new ApiError(409, 'conflict', `Patch ${patchId} is closed`);
        throw notFound(`No patch ${patchId}`);
      }
      const outage = outageOf(err);
      if (outage) {
        throw unavailable(
          `${outageText(outage)}: the ${update.name} update of patch ${patchId} could not be confirmed; it may or may not have been applied. ` +
            `Its status (GET /v1/patches/${patchId}) shows the decisions recorded once it answers again; check there before sending it again`,
          { dependency: outage.dependency, applied: 'unknown', patchId, check: `GET /v1/patches/${patchId}` },
          err,
        );
      }
      throw err;
    }
    // the update answers a small acknowledgment; the status after it comes from the query
    try {
      return await currentStatus(patchId);
    } catch (err) {
      const outage = outageOf(err);
      if (outage) {
        throw unavailable(
          `The ${update.name} update of patch ${patchId} was recorded, but the status after it could not be read: ${outageText(outage, true)}. ` +
            `GET /v1/patches/${patchId} shows it once it answers again; do not send the update again`,
          { dependency: outage.dependency, applied: 'yes', patchId, check: `GET /v1/patches/${patchId}` },
          err,
        );
      }
      throw err;
    }
  }

  /**
   * Sends an update, again when the server aborted it with its workflow task (see above): the same
   * signed input, whose nonce the workflow did not record since it recorded nothing.
   */
  async function sendUpdate<I>(handle: WorkflowHandle, patchId: string, update: UpdateDefinition<UpdateAck, [I]>, input: I) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await handle.executeUpdate(update, { args: [input] });
      } catch (err) {
        if (attempt >= UPDATE_ATTEMPTS || !isAbortedWithWorkflowTask(err)) throw err;
        deps.logger.warn(
          { patch: patchId, update: update.name, attempt },
          'the update was aborted with its workflow task; sending it again',
        );
        // a short pause lets the events that raced the aborted task land first
        await setTimeout(UPDATE_RETRY_MS * 2 ** (attempt - 1));
      }
    }
  }

  function decisionRoute<B extends z.ZodType, I extends object>(spec: {
    path: string;
    summary: string;
    access: Role[] | 'authenticated';
    body: B;
    toInput: (body: z.output<B>, actor: Actor, patchId: string) => Promise<I> | I;
    update: UpdateDefinition<UpdateAck, [I]>;
  }): RouteSpec {
    return defineRoute({
      method: 'post',
      path: spec.path,
      summary: spec.summary,
      access: spec.access,
      params: PatchIdParam,
      body: spec.body,
      responses: {
        200: { description: 'recorded; the status after it', schema: PatchStatus },
        403: { description: 'role or segregation of duties' },
        404: { description: 'no such patch' },
        409: { description: 'wrong phase, duplicate decision or closed patch' },
      },
      handler: async ({ params, body, user, req }) => {
        const input = await beforeChange(req.method, () => spec.toInput(body as z.output<B>, actorOf(user), params.id));
        const status = await decide(params.id, spec.update, input);
        deps.logger.info({ patch: params.id, by: user.name, update: spec.update.name }, 'decision recorded');
        return { body: status };
      },
    });
  }

  /** Exceptions and deferrals name a host this patch targets and has not made compliant. */
  async function ensureOpenTarget(patchId: string, assetId: string) {
    const { rows } = await deps.pool.query<{ status: string }>(
      'SELECT status FROM deployment_hosts WHERE patch_id = $1 AND asset_id = $2',
      [patchId, assetId],
    );
    if (rows.length === 0) throw badRequest(`Asset ${assetId} is not a deployment target of patch ${patchId}`, { assetId });
    if ((COMPLIANT as readonly string[]).includes(rows[0]!.status)) {
      throw new ApiError(409, 'conflict', `Asset ${assetId} is already compliant with patch ${patchId} (${rows[0]!.status})`);
    }
  }

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
        const handle = await deps.temporal.workflow.start(
          patchLifecycle,
          patchStartOptions(request, deps.taskQueue, [deps.updateKey.publicKey]),
        );
        return { id: request.id, workflowId: handle.workflowId };
      } catch (err) {
        // 32 random bits a day make a clash rare; on one, draw again.
        if (err instanceof WorkflowExecutionAlreadyStartedError) continue;
        const outage = outageOf(err);
        if (!outage) throw err;
        // the start may have reached the server before the answer was lost: the patch may exist
        throw unavailable(
          `${outageText(outage)}: the start of patch ${request.id} could not be confirmed; it may or may not have been applied. ` +
            `GET /v1/patches/${request.id} tells once it answers again (404: it did not start, open it again)`,
          { dependency: outage.dependency, applied: 'unknown', patchId: request.id, check: `GET /v1/patches/${request.id}` },
          err,
        );
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
      handler: async ({ body, user, req }) => {
        await beforeChange(req.method, () => ensureAdvisoriesKnown(body.advisoryIds));
        const created = await startPatch(body, actorOf(user));
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
          return { body: await currentStatus(params.id) };
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw notFound(`No patch ${params.id}`);
          throw err;
        }
      },
    }),
    decisionRoute({
      path: '/v1/patches/:id/reviews',
      summary: 'A peer review of the current evaluation: approve or reject, optionally proposing another priority',
      access: ['reviewer'],
      body: ReviewRequest,
      update: reviewUpdate,
      toInput: (body, actor) => ({ actor, ...body }),
    }),
    decisionRoute({
      path: '/v1/patches/:id/decision',
      summary: "The change board's decision: approve, reject, hold, resume, cancel or deploy-anyway",
      access: ['approver'],
      body: DecisionRequest,
      update: decideUpdate,
      toInput: (body, actor) => ({ actor, ...body }),
    }),
    decisionRoute({
      path: '/v1/patches/:id/revise',
      summary: 'Revise a patch (after a reject, or before its hosts are changed): a new evaluation, and reviews start again',
      access: ['operator'],
      body: RevisionRequest,
      update: reviseUpdate,
      toInput: async (body, actor) => {
        if (body.advisoryIds) await ensureAdvisoriesKnown(body.advisoryIds);
        return { actor, ...body };
      },
    }),
    decisionRoute({
      path: '/v1/patches/:id/cancel',
      summary: 'Cancel a patch at any phase (once hosts are being changed: abort)',
      access: ['operator', 'approver'],
      body: CancelRequest,
      update: cancelUpdate,
      toInput: (body, actor) => ({ actor, reason: body.reason }),
    }),
    decisionRoute({
      path: '/v1/patches/:id/rollout',
      summary: 'An operator action on the rollout: pause, resume, abort, rollback or retry-stragglers',
      access: ['operator'],
      body: RolloutRequest,
      update: rolloutUpdate,
      toInput: (body, actor) => ({ actor, ...body }),
    }),
    decisionRoute({
      path: '/v1/patches/:id/exceptions',
      summary: 'Except a host under a compensating control until a date (approver)',
      access: ['approver'],
      body: ExceptionRequest,
      update: exceptionUpdate,
      toInput: async (body, actor, patchId) => {
        // at most the policy's exceptionMaxLifetime from now (400 past it)
        const { policy } = await currentPolicy(deps.pool);
        const tooLong = refuseExceptionLifetime(body.expiresAt, Date.now(), policy.governance.exceptionMaxLifetime);
        if (tooLong) throw badRequest(tooLong.message, { maxLifetime: policy.governance.exceptionMaxLifetime });
        await ensureOpenTarget(patchId, body.assetId);
        return { actor, ...body };
      },
    }),
    decisionRoute({
      path: '/v1/patches/:id/deferrals',
      summary: 'Defer a host of a scheduled patch, at the latest to the recommended deadline (409 for emergencies)',
      access: ['operator'],
      body: DeferralRequest,
      update: deferralUpdate,
      toInput: async (body, actor, patchId) => {
        await ensureOpenTarget(patchId, body.assetId);
        return { actor, ...body };
      },
    }),
    decisionRoute({
      path: '/v1/patches/:id/feedback',
      summary: 'Report a problem during the lab, pilot, rollout or monitoring; above the threshold the rollout halts',
      // the people who run, review and approve the change; auditors read and write nothing
      access: ['operator', 'reviewer', 'approver'],
      body: FeedbackRequest,
      update: feedbackUpdate,
      toInput: (body, actor) => ({ actor, ...body }),
    }),
    decisionRoute({
      path: '/v1/patches/:id/postmortem',
      summary: 'Lessons learned and follow-up actions; the patch then completes',
      access: ['operator'],
      body: PostmortemRequest,
      update: postmortemUpdate,
      toInput: (body, actor) => ({ actor, ...body }),
    }),
    decisionRoute({
      path: '/v1/patches/:id/trust',
      summary: "Replace the public keys whose signed updates the patch accepts (rotation of the API's update key; docs/security.md)",
      access: ['admin'],
      body: TrustRequest,
      update: trustUpdate,
      toInput: (body, actor) => ({ actor, ...body }),
    }),
  ];
}
