/**
 * Assessment (docs/process.md, step 1), a revision's new evaluation, and the scope checks that
 * tell whether an approval still covers what would be done.
 */
import { upsertSearchAttributes } from '@temporalio/workflow';
import { scopeChanges } from '../../../domain/governance';
import type { PatchRequest } from '../../../domain/patch';
import type { Priority } from '../../../domain/policy';
import type { AssessmentInput, AssessmentResult } from '../../../services/assessment';
import { PatchAdvisories, PatchEmergency, PatchPriority } from '../../search-attributes';
import { assess } from '../calls';
import { now, type Patch } from '../patch';
import type { Step } from '../state';

const NOT_APPLICABLE = 'No asset in the inventory is affected by these advisories';

function assessmentInput(request: PatchRequest): AssessmentInput {
  return {
    patchId: request.id,
    advisoryIds: request.advisoryIds,
    emergency: request.emergency,
    strategy: request.strategy,
    settings: request.settings,
    since: request.requestedAt,
  };
}

/** The first evaluation: the targets, the priority and the deadlines; a patch nothing needs closes at once. */
export async function assessment(p: Patch): Promise<Step> {
  const s = p.status;
  const evaluation = await assess(assessmentInput(p.state.request));
  s.cves = evaluation.cves;
  s.targets = evaluation.targets;
  if (evaluation.affectedAssets === 0) {
    s.priorityReasons = [NOT_APPLICABLE];
    s.state = 'done';
    s.outcome = 'not-applicable';
    p.enterPhase('completed');
    return 'closed';
  }
  p.state.evaluation = evaluation;
  applyEvaluation(p);
  return 'review';
}

/** An operator's revision: the changed request evaluated again, then reviewed again. */
export async function revise(p: Patch): Promise<Step> {
  const s = p.status;
  const revision = p.state.pending.revision!;
  p.state.pending.revision = undefined;
  const previous = p.state.request;
  const request: PatchRequest = {
    ...previous,
    advisoryIds: revision.advisoryIds ?? previous.advisoryIds,
    emergency: revision.emergency ?? previous.emergency,
    settings: { ...previous.settings, ...revision.settings },
  };
  s.revision++;
  s.returned = null;
  s.approval = null;
  s.hold = null;
  s.awaiting = 'nothing';
  p.setState('running');
  p.enterPhase('assessment');
  let evaluation: AssessmentResult;
  try {
    evaluation = await assess(assessmentInput(request));
  } catch (err) {
    // e.g. an advisory that was never imported: the operator gets the patch back as it was
    s.returned = { by: 'patchflow', at: now(), comment: `The revision could not be assessed: ${(err as Error).message}` };
    s.awaiting = 'revision';
    p.setState('waiting');
    p.enterPhase('peer-review');
    return 'returned';
  }
  p.state.request = request;
  p.state.evaluation = evaluation;
  s.advisoryIds = request.advisoryIds;
  s.emergency = request.emergency;
  s.settings = request.settings;
  upsertSearchAttributes([
    { key: PatchAdvisories, value: s.advisoryIds },
    { key: PatchEmergency, value: s.emergency },
  ]);
  applyEvaluation(p);
  if (evaluation.affectedAssets === 0) {
    s.priorityReasons = [NOT_APPLICABLE];
    return p.close('not-applicable');
  }
  return 'review';
}

/** Evaluates the scope again: why the approval no longer holds, [] when it still does. */
export async function recheckScope(p: Patch): Promise<string[]> {
  const fresh = await assess(assessmentInput(p.state.request));
  const reasons = scopeChanges(p.evaluation.scope, fresh.scope);
  if (reasons.length === 0 && fresh.affectedAssets > 0) return [];
  p.state.evaluation = fresh;
  return reasons.length > 0 ? reasons : ['No asset is affected any more'];
}

/** The approval no longer covers what would be done: no host is changed until it is approved again. */
export function scopeChanged(p: Patch, reasons: string[]): Step {
  if (p.state.rollout) p.state.rollout.changingHosts = false;
  p.status.approvalInvalidated = { at: now(), reasons };
  p.status.approval = null;
  applyEvaluation(p);
  return 'approval';
}

/** One evaluation of the scope after the lab, before the pilot changes more hosts. */
export async function scopeCheck(p: Patch): Promise<Step> {
  const reasons = await recheckScope(p);
  return reasons.length > 0 ? scopeChanged(p, reasons) : 'pilot';
}

/** The evaluation in force, in the status and the search attributes. */
export function applyEvaluation(p: Patch): void {
  const s = p.status;
  const e = p.evaluation;
  s.cves = e.cves;
  s.targets = e.targets;
  s.priority = e.priority;
  s.priorityReasons = e.priorityReasons;
  s.deadlines = e.deadlines;
  s.governance = e.governance;
  s.plan = e.plan;
  adoptReviewedPriority(p);
  upsertSearchAttributes([{ key: PatchPriority, value: s.priority }]);
}

/** When the approving reviewers of this evaluation agree on another priority, it applies. */
export function adoptReviewedPriority(p: Patch): void {
  const s = p.status;
  const e = p.evaluation;
  const proposals = s.reviews.filter((r) => r.round === s.revision && r.verdict === 'approve' && r.priority !== undefined);
  const proposed = new Set(proposals.map((r) => r.priority));
  if (proposed.size !== 1 || proposals[0]!.priority === e.priority) return;
  const priority = proposals[0]!.priority as Priority;
  s.priority = priority;
  s.deadlines = e.deadlinesByPriority[priority];
  const who = proposals.map((r) => `${r.reviewer} ("${r.comment}")`).join(', ');
  s.priorityReasons = [...e.priorityReasons, `Changed from ${e.priority} to ${priority} at peer review by ${who}`];
}
