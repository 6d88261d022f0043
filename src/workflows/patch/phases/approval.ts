/** Approval (docs/process.md, step 3): the change board approves or rejects; a hold stops the clock until it is resumed. */
import type { Patch } from '../patch';
import type { Step } from '../state';
import { startReminders, waitForPeople } from './people';

export function approval(p: Patch): Promise<Step> {
  const s = p.status;
  p.state.pending.decision = undefined;
  s.awaiting = 'decision';
  p.setState('waiting');
  p.enterPhase('approval');
  const why = s.approvalInvalidated ? ` again: ${s.approvalInvalidated.reasons.join('; ')}` : '';
  p.tell('approval-requested', `"${s.title}" (priority ${s.priority}) needs an approval${why}`);
  startReminders(p, p.evaluation.governance.approvalTimeout);
  return Promise.resolve('decision');
}

export async function decision(p: Patch): Promise<Step> {
  const pending = p.state.pending;
  const woke = await waitForPeople(
    p,
    p.evaluation.governance.approvalTimeout,
    'approval',
    () => p.interrupted() || pending.decision !== undefined,
  );
  if (woke === 'continue') return 'decision';
  p.status.awaiting = 'nothing';
  const interruption = p.interruption();
  if (interruption) return interruption;
  return pending.decision === 'reject' ? p.close('rejected') : 'lab';
}
