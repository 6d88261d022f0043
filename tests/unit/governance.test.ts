import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  governanceTerms,
  refuseCancel,
  refuseDecision,
  refuseReview,
  refuseRevision,
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
    expect(refuseReview(view(), person('opal', 'operator', 'reviewer'))).toMatchObject({ kind: 'forbidden', message: expect.stringContaining('requested') });
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
    expect(refuseDecision({ ...approval, allReviewerIds: ['dana'] }, person('dana', 'approver'), 'reject')).toMatchObject({ kind: 'forbidden' });
    expect(refuseDecision(approval, person('rita', 'reviewer'), 'approve')).toMatchObject({ kind: 'forbidden' });
  });

  it('takes each decision only where it means something', () => {
    const carl = person('carl', 'approver');
    expect(refuseDecision(view(), carl, 'approve')).toMatchObject({ kind: 'conflict' });
    expect(refuseDecision({ ...approval, state: 'on-hold' }, carl, 'approve')).toMatchObject({ kind: 'conflict', message: expect.stringContaining('resume') });
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
    expect(governanceTerms(DEFAULT_POLICY, { emergency: false, settings: {} }, 3)).toMatchObject({ fastTrack: false, reviewersRequired: 2, reviewTimeout: '1d' });
    expect(governanceTerms(DEFAULT_POLICY, { emergency: true, settings: {} }, 3)).toMatchObject({ fastTrack: true, reviewersRequired: 1, reviewTimeout: '1h' });
    expect(governanceTerms(DEFAULT_POLICY, { emergency: false, settings: {} }, 1).fastTrack).toBe(true);
    expect(governanceTerms(DEFAULT_POLICY, { emergency: false, settings: { reviewersRequired: 1 } }, 3).reviewersRequired).toBe(2);
    expect(governanceTerms(DEFAULT_POLICY, { emergency: false, settings: { reviewersRequired: 3, reviewTimeout: '2s' } }, 3)).toMatchObject({
      reviewersRequired: 3,
      reviewTimeout: '2s',
    });
  });

  it('picks risk-first for emergencies and known exploitation, least-critical-first otherwise', () => {
    expect(rolloutPlanSettings(DEFAULT_POLICY, { emergency: false, settings: {} }, false).strategy).toBe('least-critical-first');
    expect(rolloutPlanSettings(DEFAULT_POLICY, { emergency: false, settings: {} }, true).strategy).toBe('risk-first');
    expect(rolloutPlanSettings(DEFAULT_POLICY, { emergency: true, strategy: 'least-critical-first', settings: { maxConcurrent: 3 } }, true)).toMatchObject({
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
