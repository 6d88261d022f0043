import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  governanceTerms,
  refuseCancel,
  refuseDecision,
  refuseDeferral,
  refuseException,
  refuseExceptionLifetime,
  refuseFeedback,
  refusePostmortem,
  refuseReview,
  refuseRevision,
  refuseRolloutAction,
  rolloutPlanSettings,
  scopeChanges,
  type GovernanceView,
  type Scope,
} from '../../src/domain/governance';
import type { Actor } from '../../src/domain/patch';
import { DEFAULT_POLICY } from '../../src/domain/policy';
import { ROLES } from '../../src/domain/roles';

const person = (id: string, ...roles: Actor['roles']): Actor => ({ id, name: id, roles });
const view = (overrides: Partial<GovernanceView> = {}): GovernanceView => ({
  phase: 'peer-review',
  state: 'waiting',
  awaiting: 'reviews',
  requesterId: 'opal',
  currentReviewerIds: [],
  allReviewerIds: [],
  changingHosts: false,
  ...overrides,
});

describe('review rules', () => {
  it('needs the reviewer role, another person than the requester, the review phase and one review per round', () => {
    expect(refuseReview(view(), person('rita', 'reviewer'))).toBeUndefined();
    expect(refuseReview(view(), person('opal', 'operator'))).toMatchObject({ kind: 'forbidden' });
    expect(refuseReview(view(), person('opal', 'operator', 'reviewer'))).toMatchObject({
      kind: 'forbidden',
      message: expect.stringContaining('requested'),
    });
    expect(refuseReview(view({ currentReviewerIds: ['rita'] }), person('rita', 'reviewer'))).toMatchObject({ kind: 'conflict' });
    expect(refuseReview(view({ phase: 'approval', awaiting: 'decision' }), person('rita', 'reviewer'))).toMatchObject({ kind: 'conflict' });
    expect(refuseReview(view({ awaiting: 'revision' }), person('rita', 'reviewer'))).toMatchObject({ kind: 'conflict' });
    expect(refuseReview(view({ state: 'done', phase: 'completed' }), person('rita', 'reviewer'))).toMatchObject({ kind: 'conflict' });
  });

  it('checks the role before the phase: a person without the role always gets 403', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('peer-review', 'approval', 'testing', 'completed' as const),
        fc.constantFrom('waiting', 'on-hold', 'running', 'done' as const),
        fc.subarray(ROLES.filter((r) => r !== 'reviewer')),
        (phase, state, roles) => {
          expect(refuseReview(view({ phase, state }), { id: 'x', name: 'x', roles })).toMatchObject({ kind: 'forbidden' });
        },
      ),
    );
  });
});

describe('decision rules', () => {
  const approval = view({ phase: 'approval', awaiting: 'decision' });
  it('keeps the requester and every reviewer of any round away from the approval', () => {
    expect(refuseDecision(approval, person('carl', 'approver'), 'approve')).toBeUndefined();
    expect(refuseDecision(approval, person('opal', 'approver'), 'approve')).toMatchObject({ kind: 'forbidden' });
    expect(refuseDecision({ ...approval, allReviewerIds: ['dana'] }, person('dana', 'approver'), 'reject')).toMatchObject({
      kind: 'forbidden',
    });
    expect(refuseDecision(approval, person('rita', 'reviewer'), 'approve')).toMatchObject({ kind: 'forbidden' });
  });

  it('takes each decision only where it means something', () => {
    const carl = person('carl', 'approver');
    expect(refuseDecision(view(), carl, 'approve')).toMatchObject({ kind: 'conflict' });
    expect(refuseDecision({ ...approval, state: 'on-hold' }, carl, 'approve')).toMatchObject({
      kind: 'conflict',
      message: expect.stringContaining('resume'),
    });
    expect(refuseDecision({ ...approval, state: 'on-hold' }, carl, 'resume')).toBeUndefined();
    expect(refuseDecision(approval, carl, 'resume')).toMatchObject({ kind: 'conflict' });
    expect(refuseDecision(approval, carl, 'hold')).toBeUndefined();
    expect(refuseDecision(view({ phase: 'testing' }), carl, 'cancel')).toBeUndefined();
    expect(refuseDecision(approval, carl, 'deploy-anyway')).toMatchObject({ kind: 'conflict' });
    expect(refuseDecision(view({ state: 'done', phase: 'completed' }), carl, 'cancel')).toMatchObject({ kind: 'conflict' });
  });
});

describe('revision and cancel rules', () => {
  it('lets operators revise until hosts are being changed, and operators or approvers cancel until the end', () => {
    const opal = person('opal', 'operator');
    expect(refuseRevision(view({ awaiting: 'revision' }), opal)).toBeUndefined();
    expect(refuseRevision(view({ phase: 'testing', state: 'running', awaiting: 'nothing' }), opal)).toBeUndefined();
    expect(refuseRevision(view({ phase: 'rollout', changingHosts: true }), opal)).toMatchObject({ kind: 'conflict' });
    expect(refuseRevision(view(), person('rita', 'reviewer'))).toMatchObject({ kind: 'forbidden' });
    expect(refuseCancel(view({ phase: 'rollout' }), person('carl', 'approver'))).toBeUndefined();
    expect(refuseCancel(view(), person('aude', 'auditor'))).toMatchObject({ kind: 'forbidden' });
    expect(refuseCancel(view({ state: 'done' }), opal)).toMatchObject({ kind: 'conflict' });
  });
});

describe('terms and scope', () => {
  it('fast-tracks emergencies and priority 1, and never lets a patch ask for fewer reviewers than the policy', () => {
    expect(governanceTerms(DEFAULT_POLICY, { emergency: false, settings: {} }, 3)).toMatchObject({
      fastTrack: false,
      reviewersRequired: 2,
      reviewTimeout: '1d',
    });
    expect(governanceTerms(DEFAULT_POLICY, { emergency: true, settings: {} }, 3)).toMatchObject({
      fastTrack: true,
      reviewersRequired: 1,
      reviewTimeout: '1h',
    });
    expect(governanceTerms(DEFAULT_POLICY, { emergency: false, settings: {} }, 1).fastTrack).toBe(true);
    expect(governanceTerms(DEFAULT_POLICY, { emergency: false, settings: { reviewersRequired: 1 } }, 3).reviewersRequired).toBe(2);
    expect(governanceTerms(DEFAULT_POLICY, { emergency: false, settings: { reviewersRequired: 3, reviewTimeout: '2s' } }, 3)).toMatchObject(
      {
        reviewersRequired: 3,
        reviewTimeout: '2s',
      },
    );
  });

  it('picks risk-first for emergencies and known exploitation, least-critical-first otherwise', () => {
    expect(rolloutPlanSettings(DEFAULT_POLICY, { emergency: false, settings: {} }, false).strategy).toBe('least-critical-first');
    expect(rolloutPlanSettings(DEFAULT_POLICY, { emergency: false, settings: {} }, true).strategy).toBe('risk-first');
    expect(
      rolloutPlanSettings(DEFAULT_POLICY, { emergency: true, strategy: 'least-critical-first', settings: { maxConcurrent: 3 } }, true),
    ).toMatchObject({
      strategy: 'least-critical-first',
      maxConcurrent: 3,
      maxPerGroupPerWave: 1,
    });
  });

  it('says which part of an approved scope changed', () => {
    const scope = (over: Partial<Scope['parts']> = {}, production = 2): Scope => ({
      digest: JSON.stringify(over) + production,
      parts: { advisories: 'a', targets: 't', priority: 3, plan: 'p', ...over },
      targets: { lab: 1, pilot: 0, production },
    });
    expect(scopeChanges(scope(), scope())).toEqual([]);
    expect(scopeChanges(scope(), scope({ targets: 't2' }, 3))).toEqual([
      'The affected assets changed: approved lab 1, pilot 0, production 2; now lab 1, pilot 0, production 3',
    ]);
    expect(scopeChanges(scope(), scope({ priority: 1, plan: 'p2', advisories: 'b' }))).toEqual([
      'The advisories changed',
      'The assessed priority changed from 3 to 1',
      'The rollout plan settings changed (policy or patch settings)',
    ]);
  });
});

describe('rollout rules', () => {
  const opal = person('opal', 'operator');
  const otto = person('otto', 'operator');
  const carl = person('carl', 'approver');
  const rolling = view({ phase: 'rollout', state: 'running', awaiting: 'nothing', changingHosts: true });

  it('lets operators pause a running rollout, resume a paused or operator-halted one, abort or roll back while hosts change', () => {
    expect(refuseRolloutAction(rolling, otto, 'pause')).toBeUndefined();
    expect(refuseRolloutAction(rolling, carl, 'pause')).toMatchObject({ kind: 'forbidden' });
    expect(refuseRolloutAction({ ...rolling, state: 'paused' }, otto, 'pause')).toMatchObject({ kind: 'conflict' });
    expect(refuseRolloutAction(rolling, otto, 'resume')).toMatchObject({ kind: 'conflict' });
    expect(refuseRolloutAction({ ...rolling, state: 'paused' }, otto, 'resume')).toBeUndefined();
    expect(refuseRolloutAction({ ...rolling, state: 'halted', awaiting: 'operator' }, otto, 'resume')).toBeUndefined();
    // a lab halt is the approvers' to decide
    expect(refuseRolloutAction({ ...rolling, phase: 'testing', state: 'halted', awaiting: 'lab-decision' }, otto, 'resume')).toMatchObject({
      kind: 'conflict',
    });
    for (const action of ['abort', 'rollback'] as const) {
      expect(refuseRolloutAction(rolling, otto, action)).toBeUndefined();
      expect(refuseRolloutAction(view({ phase: 'approval', awaiting: 'decision' }), otto, action)).toMatchObject({ kind: 'conflict' });
    }
    expect(refuseRolloutAction(rolling, otto, 'retry-stragglers')).toMatchObject({ kind: 'conflict' });
    expect(refuseRolloutAction({ ...rolling, phase: 'verification' }, otto, 'retry-stragglers')).toBeUndefined();
    expect(refuseRolloutAction({ ...rolling, state: 'done', phase: 'completed' }, otto, 'abort')).toMatchObject({ kind: 'conflict' });
  });

  it('takes deploy-anyway and hold from an approver only while the lab result waits for one', () => {
    const labHalt = view({ phase: 'testing', state: 'halted', awaiting: 'lab-decision', changingHosts: true });
    expect(refuseDecision(labHalt, carl, 'deploy-anyway')).toBeUndefined();
    expect(refuseDecision(labHalt, carl, 'hold')).toBeUndefined();
    expect(refuseDecision({ ...labHalt, state: 'on-hold' }, carl, 'deploy-anyway')).toMatchObject({ kind: 'conflict' });
    expect(refuseDecision(rolling, carl, 'deploy-anyway')).toMatchObject({ kind: 'conflict' });
    expect(refuseDecision(rolling, carl, 'hold')).toMatchObject({ kind: 'conflict' });
    expect(refuseDecision(labHalt, person('opal', 'approver'), 'deploy-anyway')).toMatchObject({ kind: 'forbidden' });
  });

  it('excepts hosts by an approver other than the requester, while the patch is deployed', () => {
    expect(refuseException(rolling, carl)).toBeUndefined();
    expect(refuseException(rolling, otto)).toMatchObject({ kind: 'forbidden' });
    expect(refuseException(rolling, person('opal', 'approver'))).toMatchObject({ kind: 'forbidden' });
    expect(refuseException(view({ phase: 'approval', awaiting: 'decision' }), carl)).toMatchObject({ kind: 'conflict' });
  });

  it('refuses exceptions from a reviewer of the patch, in any round (issue 14)', () => {
    const reviewed = { ...rolling, allReviewerIds: ['rita', 'dana'] };
    const dana = person('dana', 'reviewer', 'approver');
    expect(refuseException(reviewed, dana)).toMatchObject({ kind: 'forbidden', message: expect.stringContaining('reviewed') });
    expect(refuseException(reviewed, carl)).toBeUndefined();
  });

  it('bounds an exception by the policy’s exceptionMaxLifetime', () => {
    const granted = Date.parse('2026-11-01T00:00:00Z');
    expect(refuseExceptionLifetime('2026-11-08T00:00:00Z', granted, '7d')).toBeUndefined();
    expect(refuseExceptionLifetime('2026-11-08T00:00:00.001Z', granted, '7d')).toMatchObject({
      kind: 'invalid',
      message: expect.stringContaining('at the latest 2026-11-08T00:00:00.000Z'),
    });
    expect(refuseExceptionLifetime('2027-11-02T00:00:00+00:00', granted, DEFAULT_POLICY.governance.exceptionMaxLifetime)).toMatchObject({
      kind: 'invalid',
    });
  });

  it('defers hosts of scheduled patches only, at the latest to the recommended deadline', () => {
    const deadline = '2026-12-01T00:00:00.000Z';
    expect(
      refuseDeferral(rolling, opal, { emergency: false, until: '2026-11-30T00:00:00Z', recommendedDeadline: deadline }),
    ).toBeUndefined();
    expect(refuseDeferral(rolling, opal, { emergency: true, until: '2026-11-30T00:00:00Z', recommendedDeadline: deadline })).toMatchObject({
      kind: 'conflict',
    });
    expect(refuseDeferral(rolling, opal, { emergency: false, until: '2026-12-02T00:00:00Z', recommendedDeadline: deadline })).toMatchObject(
      { kind: 'invalid' },
    );
    expect(refuseDeferral(rolling, carl, { emergency: false, until: '2026-11-30T00:00:00Z', recommendedDeadline: deadline })).toMatchObject(
      { kind: 'forbidden' },
    );
  });

  it('takes feedback from testing to monitoring, and the postmortem when it is due', () => {
    for (const phase of ['testing', 'pilot', 'rollout', 'verification', 'monitoring'] as const)
      expect(refuseFeedback({ ...rolling, phase })).toBeUndefined();
    expect(refuseFeedback(view())).toMatchObject({ kind: 'conflict' });
    expect(refusePostmortem(view({ phase: 'postmortem', state: 'waiting', awaiting: 'postmortem' }), opal)).toBeUndefined();
    expect(refusePostmortem(view({ phase: 'postmortem', state: 'waiting', awaiting: 'postmortem' }), carl)).toMatchObject({
      kind: 'forbidden',
    });
    expect(refusePostmortem(rolling, opal)).toMatchObject({ kind: 'conflict' });
  });
});
