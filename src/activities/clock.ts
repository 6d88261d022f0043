/**
 * The activities' clock: the time every record an activity writes, or compares with "now", is
 * taken at (deployment hosts, step records, exceptions, deferrals, breaches, assessment).
 *
 * An activity's record can never predate the moment Temporal scheduled its attempt
 * (`currentAttemptScheduledTimestampMs`, the server's clock). On a real server the worker's
 * `Date.now()` is the later of the two, so this is the machine clock. On the time-skipping test
 * server the scheduled time is the workflow's (skipped) time, days or months ahead of the
 * machine, so records follow the workflow's clock instead of the machine's or PostgreSQL's
 * `now()`.
 *
 * Within one activity the clock then runs on in real time from that point: the first reading in
 * an activity context is `max(Date.now(), scheduled)`, every later one adds the real time passed
 * since (the same offset), so the records of one call keep their order and a simulated wait (a
 * reboot's `backAt`) is measured on the same clock it was set on.
 */
import { asyncLocalStorage, type Context } from '@temporalio/activity';

/** Per activity attempt (a Context each): how far the activity clock is ahead of `Date.now()`. */
const offsets = new WeakMap<Context, number>();

/** Now, on the activity's clock; `new Date()` outside an activity. */
export function activityNow(): Date {
  const now = Date.now();
  const context = asyncLocalStorage.getStore();
  if (context === undefined) return new Date(now);
  let offset = offsets.get(context);
  if (offset === undefined) {
    offset = Math.max(0, context.info.currentAttemptScheduledTimestampMs - now);
    offsets.set(context, offset);
  }
  return new Date(now + offset);
}
