/** Signals, queries and updates of `patchLifecycle`, shared by the workflow and its clients. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PatchStatus } from '../domain/patch-status';
import type {
  CancelInput,
  DecisionInput,
  DeferralInput,
  ExceptionInput,
  FeedbackInput,
  PostmortemInput,
  ReviewInput,
  RevisionInput,
  RolloutInput,
  TrustInput,
  UpdateAck,
} from '../domain/patch';

export const statusQuery = defineQuery<PatchStatus>('status');

/**
 * Every human decision is an update with a validator: a refused one leaves no event in the
 * history, and the caller learns why at once. A refusal is an ApplicationFailure whose type is
 * one of REFUSAL_TYPES. An accepted one answers a small UpdateAck, not the status. Each input
 * carries the API's signature (src/domain/signed-update.ts), checked before anything else.
 */
export const reviewUpdate = defineUpdate<UpdateAck, [ReviewInput]>('review');
export const decideUpdate = defineUpdate<UpdateAck, [DecisionInput]>('decide');
export const reviseUpdate = defineUpdate<UpdateAck, [RevisionInput]>('revise');
export const cancelUpdate = defineUpdate<UpdateAck, [CancelInput]>('cancel');
export const rolloutUpdate = defineUpdate<UpdateAck, [RolloutInput]>('rollout');
export const exceptionUpdate = defineUpdate<UpdateAck, [ExceptionInput]>('except');
export const deferralUpdate = defineUpdate<UpdateAck, [DeferralInput]>('defer');
export const feedbackUpdate = defineUpdate<UpdateAck, [FeedbackInput]>('feedback');
export const postmortemUpdate = defineUpdate<UpdateAck, [PostmortemInput]>('postmortem');
/** An admin replaces the keys whose signed updates the patch accepts (key rotation). */
export const trustUpdate = defineUpdate<UpdateAck, [TrustInput]>('trust');

/** From the patch workflow to a running wave: stop starting hosts (`pause`, `abort`) or go on (`resume`). */
export const waveControlSignal = defineSignal<['pause' | 'resume' | 'abort']>('wave-control');

/**
 * From a wave to the patch workflow: its hosts began (`waiting: true`) or finished waiting out an
 * outage of patchflow's own database. Sent when that changes, not per host.
 */
export const outageSignal = defineSignal<[{ waiting: boolean; reason: string }]>('infrastructure-outage');

export const REFUSAL_TYPES = { forbidden: 'Forbidden', conflict: 'Conflict', invalid: 'InvalidInput' } as const;
