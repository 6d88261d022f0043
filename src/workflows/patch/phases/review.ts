/** Peer review (docs/process.md, step 2): reviews of the current evaluation until enough approve or one rejects. */
import type { Patch } from '../patch';
import type { Step } from '../state';
import { adoptReviewedPriority } from './assessment';
import { startReminders, waitForPeople } from './people';

export function review(p: Patch): Promise<Step> {
  const s = p.status;
  const terms = p.evaluation.governance;
  p.state.reviewers.round = [];
  s.awaiting = 'reviews';
  p.setState('waiting');
  p.enterPhase('peer-review');
  p.tell('review-requested', `"${s.title}" needs ${terms.reviewersRequired} review(s)${terms.fastTrack ? ' (fast track)' : ''}`);
  startReminders(p, terms.reviewTimeout);
  return Promise.resolve('reviews');
}

export async function reviews(p: Patch): Promise<Step> {
  const s = p.status;
  const terms = p.evaluation.governance;
  const round = () => s.reviews.filter((r) => r.round === s.revision);
  const rejection = () => round().find((r) => r.verdict === 'reject');
  const approvals = () => round().filter((r) => r.verdict === 'approve').length;
  const woke = await waitForPeople(
    p,
    terms.reviewTimeout,
    'reviews',
    () => p.interrupted() || rejection() !== undefined || approvals() >= terms.reviewersRequired,
  );
  if (woke === 'continue') return 'reviews';
  const interruption = p.interruption();
  if (interruption) return interruption;
  const reject = rejection();
  if (reject) {
    s.returned = { by: reject.reviewer, at: reject.at, comment: reject.comment };
    s.awaiting = 'revision';
    p.setState('waiting');
    return 'returned';
  }
  adoptReviewedPriority(p);
  return 'approval';
}

/** A reviewer rejected the evaluation (or a revision could not be assessed): the operator revises or cancels. */
export async function returned(p: Patch): Promise<Step> {
  if ((await p.wait(() => p.interrupted())) === 'continue') return 'returned';
  return p.interruption()!;
}
