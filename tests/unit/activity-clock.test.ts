/**
 * The activities' clock (src/activities/clock.ts): the machine clock outside an activity and on a
 * real server; the attempt's scheduled time when that is later (a time-skipping test server), then
 * running on in real time.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { activityNow } from '../../src/activities/clock';

const DAY = 86_400_000;

/** Runs `fn` in the mock activity's context. */
const inActivity = <R>(env: MockActivityEnvironment, fn: () => Promise<R>): Promise<R> => env.run<[], R, typeof fn>(fn);

describe('activityNow', () => {
  it('outside an activity: the machine clock', () => {
    const before = Date.now();
    const now = activityNow().getTime();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('an attempt scheduled in the past (a real server): the machine clock', async () => {
    const env = new MockActivityEnvironment({ currentAttemptScheduledTimestampMs: Date.now() - 5_000 });
    const before = Date.now();
    const now = (await inActivity(env, async () => activityNow())).getTime();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('an attempt scheduled 30 days ahead (skipped time): never before the scheduled time, and runs on in real time', async () => {
    const scheduled = Date.now() + 30 * DAY;
    const env = new MockActivityEnvironment({ currentAttemptScheduledTimestampMs: scheduled });
    const [first, second] = await inActivity(env, async () => {
      const first = activityNow().getTime();
      await delay(50);
      return [first, activityNow().getTime()] as const;
    });
    expect(first).toBeGreaterThanOrEqual(scheduled);
    expect(first - scheduled).toBeLessThan(1_000);
    expect(second - first).toBeGreaterThanOrEqual(45);
    expect(second - first).toBeLessThan(1_000);
    // the machine clock is untouched
    expect(Math.abs(activityNow().getTime() - Date.now())).toBeLessThan(1_000);
  });
});
