/**
 * The production wave planner (docs/process.md, step 6): pure, deterministic, no I/O.
 *
 * `planWaves` cuts the production targets into waves in the strategy's order, never putting
 * more than `maxPerGroupPerWave` members of a redundancy group in one wave (and never a whole
 * group of two or more), nor more than `waveSize` hosts. `nextPatchWindow` says when a host
 * may be changed: inside one of its maintenance windows (in its own time zone) and outside
 * every global change freeze, unless the approval allowed an emergency bypass.
 */
import { DateTime } from 'luxon';
import type { Criticality, Exposure } from './asset';
import type { Strategy } from './patch';

export interface PlanTarget {
  id: string;
  criticality: Criticality;
  exposure: Exposure;
  redundancyGroup?: string | null;
}

export interface PlanOptions {
  strategy: Strategy;
  /** Most hosts in one wave. */
  waveSize: number;
  /** Most members of one redundancy group in one wave. */
  maxPerGroupPerWave: number;
}

export interface PlannedWave {
  index: number;
  assets: string[];
}

const CRITICALITY = { low: 0, medium: 1, high: 2, critical: 3 } as const;
const EXPOSURE = { isolated: 0, internal: 1, internet: 2 } as const;

/** Least critical and least exposed first, or (risk-first) the other way round; ids break ties. */
export function strategyOrder(targets: PlanTarget[], strategy: Strategy): PlanTarget[] {
  const sign = strategy === 'risk-first' ? -1 : 1;
  return [...targets].sort(
    (a, b) =>
      sign * (CRITICALITY[a.criticality] - CRITICALITY[b.criticality]) ||
      sign * (EXPOSURE[a.exposure] - EXPOSURE[b.exposure]) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

function groupSizes(targets: PlanTarget[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const t of targets) if (t.redundancyGroup) sizes.set(t.redundancyGroup, (sizes.get(t.redundancyGroup) ?? 0) + 1);
  return sizes;
}

/** How many members of each group one wave may hold: never the whole group when it has two or more. */
export function groupCaps(targets: PlanTarget[], maxPerGroupPerWave: number): Map<string, number> {
  return new Map([...groupSizes(targets)].map(([group, size]) => [group, size >= 2 ? Math.min(maxPerGroupPerWave, size - 1) : 1]));
}

/** No plan can have fewer waves: by wave size, and by the largest group over its cap. */
export function wavesLowerBound(targets: PlanTarget[], options: Pick<PlanOptions, 'waveSize' | 'maxPerGroupPerWave'>): number {
  if (targets.length === 0) return 0;
  const caps = groupCaps(targets, options.maxPerGroupPerWave);
  let bound = Math.ceil(targets.length / options.waveSize);
  for (const [group, size] of groupSizes(targets)) bound = Math.max(bound, Math.ceil(size / caps.get(group)!));
  return bound;
}

/**
 * Each host wants the wave its rank in the strategy order gives it (so early waves hold the
 * least critical hosts, or the riskiest under risk-first). The most constrained groups are
 * placed first, each member in the allowed wave nearest the one it wants; a wave is added only
 * when no existing one can take a host. When the waves are full to the last slot that nearest
 * choice can strand a group's last members, so a second placement then fills the emptiest
 * allowed wave first, and the plan with fewer waves wins (the order is the tie-breaker).
 */
export function planWaves(targets: PlanTarget[], options: PlanOptions): PlannedWave[] {
  if (options.waveSize < 1 || options.maxPerGroupPerWave < 1) throw new RangeError('waveSize and maxPerGroupPerWave must be at least 1');
  const ordered = strategyOrder(targets, options.strategy);
  if (ordered.length === 0) return [];
  const bound = wavesLowerBound(ordered, options);
  const nearest = placeWaves(ordered, options, 'nearest');
  if (nearest.length <= bound) return nearest;
  const balanced = placeWaves(ordered, options, 'emptiest');
  return balanced.length < nearest.length ? balanced : nearest;
}

function placeWaves(ordered: PlanTarget[], options: PlanOptions, choice: 'nearest' | 'emptiest'): PlannedWave[] {
  const n = ordered.length;
  const caps = groupCaps(ordered, options.maxPerGroupPerWave);
  const waveCount = wavesLowerBound(ordered, options);
  const rank = new Map(ordered.map((t, i) => [t.id, i]));
  const wanted = (t: PlanTarget) => Math.floor((rank.get(t.id)! * waveCount) / n);

  const waves: { members: PlanTarget[]; perGroup: Map<string, number> }[] = Array.from({ length: waveCount }, () => ({
    members: [],
    perGroup: new Map(),
  }));
  const fits = (w: (typeof waves)[number], t: PlanTarget) =>
    w.members.length < options.waveSize && (!t.redundancyGroup || (w.perGroup.get(t.redundancyGroup) ?? 0) < caps.get(t.redundancyGroup)!);

  // tightest groups first (size over cap), then the rest; within each, in strategy order
  const groupSize = groupSizes(ordered);
  const tightness = (t: PlanTarget) => (t.redundancyGroup ? groupSize.get(t.redundancyGroup)! / caps.get(t.redundancyGroup)! : 0);
  // 'emptiest' places a group's members one after the other, so every group finds the waves it needs
  const firstRank = new Map<string, number>();
  for (const t of ordered) if (t.redundancyGroup && !firstRank.has(t.redundancyGroup)) firstRank.set(t.redundancyGroup, rank.get(t.id)!);
  const groupRank = (t: PlanTarget) => (choice === 'emptiest' && t.redundancyGroup ? firstRank.get(t.redundancyGroup)! : rank.get(t.id)!);
  const placementOrder = [...ordered].sort(
    (a, b) => tightness(b) - tightness(a) || groupRank(a) - groupRank(b) || rank.get(a.id)! - rank.get(b.id)!,
  );

  for (const target of placementOrder) {
    const want = wanted(target);
    let chosen = -1;
    if (choice === 'emptiest' && target.redundancyGroup) {
      waves.forEach((w, i) => {
        if (!fits(w, target)) return;
        const better = chosen < 0 || w.members.length < waves[chosen]!.members.length;
        const asGood = chosen >= 0 && w.members.length === waves[chosen]!.members.length && Math.abs(i - want) < Math.abs(chosen - want);
        if (better || asGood) chosen = i;
      });
    } else {
      for (let distance = 0; distance < waves.length && chosen < 0; distance++) {
        for (const candidate of [want - distance, want + distance]) {
          if (candidate >= 0 && candidate < waves.length && fits(waves[candidate]!, target)) {
            chosen = candidate;
            break;
          }
        }
      }
    }
    if (chosen < 0) {
      waves.push({ members: [], perGroup: new Map() });
      chosen = waves.length - 1;
    }
    const wave = waves[chosen]!;
    wave.members.push(target);
    if (target.redundancyGroup) wave.perGroup.set(target.redundancyGroup, (wave.perGroup.get(target.redundancyGroup) ?? 0) + 1);
  }

  // the emptiest-first placement ignores the order: the waves then go by their hosts' mean rank
  if (choice === 'emptiest') {
    const meanRank = (w: (typeof waves)[number]) => w.members.reduce((sum, t) => sum + rank.get(t.id)!, 0) / Math.max(1, w.members.length);
    waves.sort((a, b) => meanRank(a) - meanRank(b));
  }

  // within a group, the members keep the strategy order across the waves the group got
  const slots = new Map<string, { wave: number; target: PlanTarget }[]>();
  waves.forEach((w, index) => {
    for (const t of w.members)
      if (t.redundancyGroup) slots.set(t.redundancyGroup, [...(slots.get(t.redundancyGroup) ?? []), { wave: index, target: t }]);
  });
  for (const members of slots.values()) {
    const inRank = members.map((m) => m.target).sort((a, b) => rank.get(a.id)! - rank.get(b.id)!);
    const wavesInOrder = members.map((m) => m.wave).sort((a, b) => a - b);
    for (const w of new Set(wavesInOrder)) waves[w]!.members = waves[w]!.members.filter((t) => !members.some((m) => m.target === t));
    inRank.forEach((t, i) => waves[wavesInOrder[i]!]!.members.push(t));
  }

  return waves
    .filter((w) => w.members.length > 0)
    .map((w, index) => ({ index, assets: w.members.sort((a, b) => rank.get(a.id)! - rank.get(b.id)!).map((t) => t.id) }));
}

export interface MaintenanceWindow {
  days: ('mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun')[];
  /** HH:MM local time; a window whose end is not after its start runs past midnight. */
  start: string;
  end: string;
}

export interface ChangeFreeze {
  start: string;
  end: string;
  reason?: string;
}

export interface WindowedHost {
  timezone: string;
  maintenanceWindows: MaintenanceWindow[];
}

const WEEKDAY: Record<MaintenanceWindow['days'][number], number> = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 };
/** How far ahead to look for a window; a host with windows but none in this span is never due. */
const HORIZON_DAYS = 60;

/**
 * The first interval, at or after `from`, in which the host may be changed: inside one of its
 * maintenance windows (none at all means any time) and outside every change freeze, with at least
 * `minRemainingMs` of it left (an install must not start just before the window closes). With the
 * emergency bypass, now. `undefined` when nothing opens within the horizon.
 */
export function nextPatchWindow(
  host: WindowedHost,
  from: Date,
  freezes: ChangeFreeze[],
  emergencyBypass: boolean,
  minRemainingMs = 0,
): { start: Date; end: Date } | undefined {
  const FOREVER = new Date(8.64e15);
  if (emergencyBypass) return { start: from, end: FOREVER };
  const frozen = freezes
    .map((f) => ({ start: Date.parse(f.start), end: Date.parse(f.end) }))
    .filter((f) => f.end > f.start)
    .sort((a, b) => a.start - b.start);
  const candidates = host.maintenanceWindows.length === 0 ? [{ start: from.getTime(), end: FOREVER.getTime() }] : windowsAfter(host, from);
  for (const window of candidates) {
    let start = Math.max(window.start, from.getTime());
    while (start < window.end) {
      const covering = frozen.find((f) => f.start <= start && f.end > start);
      if (covering) {
        start = covering.end;
        continue;
      }
      const nextFreeze = frozen.find((f) => f.start > start && f.start < window.end);
      const end = nextFreeze ? nextFreeze.start : window.end;
      if (end - start >= minRemainingMs) return { start: new Date(start), end: new Date(end) };
      start = end; // too little left before the freeze: look past it
    }
  }
  return undefined;
}

/** The host's windows as UTC intervals, in order, from the one open at `from` onwards. */
function windowsAfter(host: WindowedHost, from: Date): { start: number; end: number }[] {
  const zone = host.timezone;
  const first = DateTime.fromJSDate(from, { zone }).startOf('day').minus({ days: 1 }); // a window from yesterday may still be open
  if (!first.isValid) throw new RangeError(`unknown time zone ${zone}`);
  const intervals: { start: number; end: number }[] = [];
  for (let d = 0; d <= HORIZON_DAYS; d++) {
    const day = first.plus({ days: d });
    for (const w of host.maintenanceWindows) {
      if (!w.days.some((name) => WEEKDAY[name] === day.weekday)) continue;
      const [sh, sm] = w.start.split(':').map(Number) as [number, number];
      const [eh, em] = w.end.split(':').map(Number) as [number, number];
      const start = day.set({ hour: sh, minute: sm });
      let end = day.set({ hour: eh, minute: em });
      if (end <= start) end = end.plus({ days: 1 }); // across midnight
      if (end.toMillis() > from.getTime()) intervals.push({ start: start.toMillis(), end: end.toMillis() });
    }
  }
  return intervals.sort((a, b) => a.start - b.start);
}
