/**
 * The priority policy (PRODUCT §2 step 1): a pure function from what assessment found to a
 * priority 1–4, the reasons a patch manager would write down, and both deadlines.
 */
import { z } from 'zod';
import { parseDuration } from './duration';

const duration = z.string().refine((s) => parseDuration(s) !== undefined, 'a duration such as 12h or 30d');
const Deadline = z.strictObject({ recommended: duration, maximum: duration });

export const PRIORITY_NAMES = { 1: 'emergency', 2: 'critical', 3: 'important', 4: 'low' } as const;
export type Priority = 1 | 2 | 3 | 4;

export const PolicySchema = z
  .strictObject({
    deadlines: z.strictObject({ '1': Deadline, '2': Deadline, '3': Deadline, '4': Deadline }),
    priority: z.strictObject({
      /** CVSS at or above this is critical; with known exploitation or internet-facing critical hosts, an emergency. */
      emergencyCvss: z.number().min(0).max(10),
      /** CVSS at or above this is critical when internet-facing high/critical hosts are affected, else important. */
      criticalCvss: z.number().min(0).max(10),
      /** CVSS at or above this is important; below it, low. */
      importantCvss: z.number().min(0).max(10),
      /** This many affected assets or more raises the priority one level (never to emergency on its own). */
      wideImpactAssets: z.number().int().min(1),
      /** Only isolated hosts affected and no known exploitation: one level lower. */
      isolatedLowers: z.boolean(),
      /** Compensating controls on every affected host: one level lower. */
      compensatingControlsLower: z.boolean(),
    }),
  })
  .superRefine((policy, ctx) => {
    const { emergencyCvss, criticalCvss, importantCvss } = policy.priority;
    if (!(emergencyCvss >= criticalCvss && criticalCvss >= importantCvss)) {
      ctx.addIssue({ code: 'custom', path: ['priority'], message: 'emergencyCvss ≥ criticalCvss ≥ importantCvss' });
    }
    for (const p of ['1', '2', '3', '4'] as const) {
      const d = policy.deadlines[p];
      if (parseDuration(d.recommended)! > parseDuration(d.maximum)!) {
        ctx.addIssue({ code: 'custom', path: ['deadlines', p], message: 'recommended must not be later than maximum' });
      }
    }
  });
export type Policy = z.output<typeof PolicySchema>;

/** The defaults: PRODUCT §2's deadline table; thresholds from CVSS's own severity bands. */
export const DEFAULT_POLICY: Policy = {
  deadlines: {
    '1': { recommended: '12h', maximum: '24h' },
    '2': { recommended: '7d', maximum: '14d' },
    '3': { recommended: '30d', maximum: '60d' },
    '4': { recommended: '90d', maximum: '180d' },
  },
  priority: {
    emergencyCvss: 9.0,
    criticalCvss: 7.0,
    importantCvss: 4.0,
    wideImpactAssets: 50,
    isolatedLowers: true,
    compensatingControlsLower: true,
  },
};

export interface CveFacts {
  id: string;
  cvss?: { score: number; version: string; source: string };
  kev?: { dateAdded: string; dueDate: string | null; ransomware: string | null };
}

export interface AffectedFacts {
  count: number;
  highestCriticality: 'low' | 'medium' | 'high' | 'critical';
  internetFacing: number;
  /** Every affected host is isolated. */
  allIsolated: boolean;
  /** The controls in place when every affected host has at least one; empty otherwise. */
  controlsOnAll: string[];
}

export interface PriorityResult {
  priority: Priority;
  name: (typeof PRIORITY_NAMES)[Priority];
  reasons: string[];
  deadlines: { recommended: string; maximum: string };
}

function scoreSource(source: string): string {
  if (source === 'cna') return 'the CVE record (CNA)';
  if (source.startsWith('adp:')) return `the CVE record (${source.slice(4)})`;
  return 'the advisory';
}

const CRITICALITY_RANK = { low: 0, medium: 1, high: 2, critical: 3 } as const;

export function assessPriority(policy: Policy, cves: CveFacts[], affected: AffectedFacts, now: Date): PriorityResult {
  const rules = policy.priority;
  const reasons: string[] = [];

  const scored = cves.filter((c) => c.cvss).sort((a, b) => b.cvss!.score - a.cvss!.score);
  const top = scored[0];
  const score = top?.cvss?.score;
  if (top) {
    reasons.push(`Highest CVSS base score is ${score!.toFixed(1)} (${top.id}, CVSS v${top.cvss!.version} from ${scoreSource(top.cvss!.source)})`);
  } else {
    reasons.push('No CVSS score is known for these CVEs; treated as important until reviewed');
  }

  const exploited = cves.filter((c) => c.kev);
  for (const c of exploited) {
    const ransomware = c.kev!.ransomware === 'Known' ? ', with known ransomware use' : '';
    reasons.push(`${c.id} is known to be exploited (CISA KEV, added ${c.kev!.dateAdded}${ransomware})`);
  }

  const exposedCritical = affected.internetFacing > 0 && CRITICALITY_RANK[affected.highestCriticality] >= CRITICALITY_RANK.high;
  reasons.push(
    `${affected.count} affected asset${affected.count === 1 ? '' : 's'}; most critical: ${affected.highestCriticality}; ` +
      (affected.internetFacing > 0 ? `${affected.internetFacing} internet-facing` : affected.allIsolated ? 'all isolated' : 'none internet-facing'),
  );

  let priority: Priority;
  if (exploited.length > 0) {
    if (affected.internetFacing > 0 || affected.highestCriticality === 'critical' || (score ?? 0) >= rules.emergencyCvss) {
      priority = 1;
      reasons.push('Known exploitation with internet-facing or critical assets affected, or a critical score: emergency');
    } else {
      priority = 2;
      reasons.push('Known exploitation, but no internet-facing or critical asset affected: critical');
    }
  } else if (score === undefined) {
    priority = 3;
  } else if (score >= rules.emergencyCvss) {
    priority = exposedCritical ? 1 : 2;
    reasons.push(
      exposedCritical
        ? `Score at or above ${rules.emergencyCvss} on internet-facing high or critical assets: emergency`
        : `Score at or above ${rules.emergencyCvss}: critical`,
    );
  } else if (score >= rules.criticalCvss) {
    priority = exposedCritical ? 2 : 3;
    reasons.push(
      exposedCritical
        ? `Score at or above ${rules.criticalCvss} on internet-facing high or critical assets: critical`
        : `Score at or above ${rules.criticalCvss} without internet-facing high or critical assets: important`,
    );
  } else if (score >= rules.importantCvss) {
    priority = 3;
    reasons.push(`Score between ${rules.importantCvss} and ${rules.criticalCvss}: important`);
  } else {
    priority = 4;
    reasons.push(`Score below ${rules.importantCvss}: low`);
  }

  if (affected.count >= rules.wideImpactAssets && priority > 2) {
    priority = (priority - 1) as Priority;
    reasons.push(`${affected.count} assets affected (${rules.wideImpactAssets} or more): raised one level to ${PRIORITY_NAMES[priority]}`);
  }
  if (rules.isolatedLowers && affected.allIsolated && exploited.length === 0 && priority < 4) {
    priority = (priority + 1) as Priority;
    reasons.push(`Only isolated assets are affected: lowered one level to ${PRIORITY_NAMES[priority]}`);
  }
  if (rules.compensatingControlsLower && affected.controlsOnAll.length > 0 && priority < 4) {
    priority = (priority + 1) as Priority;
    reasons.push(
      `Compensating controls on every affected asset (${affected.controlsOnAll.join('; ')}): lowered one level to ${PRIORITY_NAMES[priority]}`,
    );
  }

  const deadlines = deadlinesFor(policy, priority, exploited, now, reasons);
  reasons.push(`Priority ${priority} (${PRIORITY_NAMES[priority]}): patch by ${deadlines.recommended}, at the latest ${deadlines.maximum}`);
  return { priority, name: PRIORITY_NAMES[priority], reasons, deadlines };
}

/**
 * The policy's deadlines from `now`; a CISA KEV due date earlier than the maximum replaces it
 * (and pulls the recommended one in with it), with a reason saying so.
 */
function deadlinesFor(policy: Policy, priority: Priority, exploited: CveFacts[], now: Date, reasons: string[]) {
  const table = policy.deadlines[String(priority) as '1'];
  let recommended = now.getTime() + parseDuration(table.recommended)!;
  let maximum = now.getTime() + parseDuration(table.maximum)!;
  const due = exploited
    .filter((c) => c.kev!.dueDate)
    .map((c) => ({ id: c.id, date: c.kev!.dueDate!, at: Date.parse(`${c.kev!.dueDate}T23:59:59Z`) }))
    .sort((a, b) => a.at - b.at)[0];
  if (due && due.at < maximum) {
    maximum = due.at;
    recommended = Math.min(recommended, maximum);
    reasons.push(
      due.at < now.getTime()
        ? `CISA KEV due date for ${due.id} (${due.date}) has already passed: the patch is overdue`
        : `CISA KEV due date for ${due.id} (${due.date}) is earlier than the policy's ${table.maximum}, so it is the maximum deadline`,
    );
  }
  return { recommended: new Date(recommended).toISOString(), maximum: new Date(maximum).toISOString() };
}
