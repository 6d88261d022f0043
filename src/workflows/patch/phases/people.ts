/** Waiting for people (reviews, approvals): reminders, then escalations, with the clock stopped while on hold. */
import { parseDuration } from '../../../domain/duration';
import type { Lateness } from '../../../domain/patch-status';
import { now, type Patch } from '../patch';

/** Starts the reminder clock of a new wait for people. */
export function startReminders(p: Patch, timeout: string): void {
  p.state.reminders = { nextAt: new Date(Date.now() + parseDuration(timeout)!).toISOString(), sent: 0 };
}

/**
 * Waits until `done`; each `timeout` that passes without it sends a reminder, the second and
 * later ones an escalation. While the patch is on hold the clock stops, and starts again on
 * resume. 'continue' when the run should continue as new first (the clock is in the state).
 */
export async function waitForPeople(
  p: Patch,
  timeout: string,
  what: 'reviews' | 'approval',
  done: () => boolean,
): Promise<'done' | 'continue'> {
  const s = p.status;
  for (;;) {
    if (s.state === 'on-hold') {
      if ((await p.wait(() => s.state !== 'on-hold' || done())) === 'continue') return 'continue';
      startReminders(p, timeout);
    }
    if (done()) return 'done';
    const reminders = p.state.reminders!;
    const woke = await p.wait(() => done() || s.state === 'on-hold', Date.parse(reminders.nextAt));
    if (woke === 'continue') return 'continue';
    if (woke === 'done') continue;
    reminders.sent++;
    reminders.nextAt = new Date(Date.now() + parseDuration(timeout)!).toISOString();
    const level: Lateness['level'] = reminders.sent === 1 ? 'reminder' : 'escalation';
    const waitingFor = what === 'reviews' ? 'Reviews are' : 'The approval is';
    const message = `${waitingFor} late: no ${what === 'reviews' ? 'complete review' : 'decision'} after ${reminders.sent} × ${timeout}`;
    s.lateness.push({ phase: s.phase, level, at: now(), message });
    p.tell(level === 'reminder' ? (what === 'reviews' ? 'review-requested' : 'approval-requested') : 'escalation', message);
  }
}
