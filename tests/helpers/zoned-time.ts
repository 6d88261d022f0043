/**
 * Wall-clock time in IANA zones with nothing but `Intl`, for checks that must not share code with
 * what they check: the planner works out maintenance windows with luxon (src/domain/planner.ts),
 * these helpers work them out again from the zone data the JavaScript runtime carries. No vitest
 * here: the soak benchmark (scripts/bench-soak.ts) uses them too.
 */
import type { MaintenanceWindow } from '../../src/domain/planner';

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: Weekday;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall clock of `zone` at the instant `ms`. */
export function localTime(ms: number, zone: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const { year, month, day, hour, minute, second } = parts as Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second', number>;
  return { year, month, day, hour, minute, second, weekday: WEEKDAYS[new Date(Date.UTC(year, month - 1, day)).getUTCDay()]! };
}

/** How far `zone`'s wall clock is ahead of UTC at the instant `ms`, in ms (negative west of Greenwich). */
export function utcOffset(ms: number, zone: string): number {
  const t = localTime(ms, zone);
  const whole = Math.floor(ms / 1000) * 1000;
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) - whole;
}

/**
 * The instant a wall-clock time of `zone` names. A time that occurs twice or not at all (in
 * the hour a clock goes back or skips) gives an instant an hour either side, depending on the
 * zone: the windows of the simulated fleet start and end outside those hours.
 */
export function zonedInstant(zone: string, year: number, month: number, day: number, hour: number, minute: number): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const first = wall - utcOffset(wall, zone);
  return wall - utcOffset(first, zone);
}

/** `HH:MM` as hours and minutes. */
const clock = (hhmm: string): [number, number] => hhmm.split(':').map(Number) as [number, number];

/** A calendar date `days` after (or before) the given one. */
function plusDays(year: number, month: number, day: number, days: number): { year: number; month: number; day: number; weekday: Weekday } {
  const d = new Date(Date.UTC(year, month - 1, day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: WEEKDAYS[d.getUTCDay()]! };
}

export interface WindowOccurrence {
  /** Which of the host's windows, as written. */
  window: MaintenanceWindow;
  /** The local date it opened on (YYYY-MM-DD). */
  date: string;
  opensAt: number;
  closesAt: number;
}

/**
 * The occurrence of one of the host's maintenance windows that contains the instant `ms`
 * (opening at or before it, closing after it), or undefined. A window runs from `start` on one
 * of its `days` to `end` the same day, or the next day when `end` is not after `start`; both
 * are wall-clock times of `zone`, so a window over a DST change is an hour shorter or longer.
 */
export function windowContaining(ms: number, zone: string, windows: MaintenanceWindow[]): WindowOccurrence | undefined {
  const here = localTime(ms, zone);
  for (const back of [0, -1]) {
    const date = plusDays(here.year, here.month, here.day, back);
    for (const window of windows) {
      if (!(window.days as string[]).includes(date.weekday)) continue;
      const [sh, sm] = clock(window.start);
      const [eh, em] = clock(window.end);
      const overnight = eh * 60 + em <= sh * 60 + sm;
      const end = overnight ? plusDays(date.year, date.month, date.day, 1) : date;
      const opensAt = zonedInstant(zone, date.year, date.month, date.day, sh, sm);
      const closesAt = zonedInstant(zone, end.year, end.month, end.day, eh, em);
      if (opensAt <= ms && ms < closesAt) {
        const iso = `${date.year}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`;
        return { window, date: iso, opensAt, closesAt };
      }
    }
  }
  return undefined;
}

/** The instants in [from, to) at which `zone`'s offset from UTC changes (DST), to the minute. */
export function offsetChanges(zone: string, from: number, to: number): { at: number; before: number; after: number }[] {
  const HOUR = 3_600_000;
  const changes: { at: number; before: number; after: number }[] = [];
  for (let t = from; t < to; t += 24 * HOUR) {
    const end = Math.min(t + 24 * HOUR, to);
    const before = utcOffset(t, zone);
    const after = utcOffset(end, zone);
    if (before === after) continue;
    let lo = t;
    let hi = end; // offset(lo) = before, offset(hi) = after
    while (hi - lo > 60_000) {
      const mid = Math.floor((lo + hi) / 2 / 60_000) * 60_000;
      if (mid <= lo) break;
      if (utcOffset(mid, zone) === before) lo = mid;
      else hi = mid;
    }
    changes.push({ at: hi, before, after });
  }
  return changes;
}

/** `Sat 2027-11-06 22:00 America/New_York (UTC-4)`: an instant as people at the host read it. */
export function describeLocal(ms: number, zone: string): string {
  const t = localTime(ms, zone);
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = utcOffset(ms, zone) / 3_600_000;
  const day = t.weekday[0]!.toUpperCase() + t.weekday.slice(1);
  return `${day} ${t.year}-${pad(t.month)}-${pad(t.day)} ${pad(t.hour)}:${pad(t.minute)} ${zone} (UTC${offset >= 0 ? '+' : ''}${offset})`;
}
