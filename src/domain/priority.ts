/**
 * The priority policy (docs/process.md, step 1): a pure function from what assessment found to a
 * priority 1–4, the reasons a patch manager would write down, and both deadlines.
 */
import type { Criticality } from './asset';
import { parseDuration } from './duration';
import { PRIORITY_NAMES, type Policy, type Priority } from './policy';

export interface CveFacts {
  id: string;
  cvss?: { score: number; version: string; source: string };
  kev?: { dateAdded: string; dueDate: string | null; ransomware: string | null };
}

export interface AffectedFacts {
  count: number;
  highestCriticality: Criticality;
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
    reasons.push(
      `Highest CVSS base score is ${score!.toFixed(1)} (${top.id}, CVSS v${top.cvss!.version} from ${scoreSource(top.cvss!.source)})`,
    );
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
      (affected.internetFacing > 0
        ? `${affected.internetFacing} internet-facing`
        : affected.allIsolated
          ? 'all isolated'
          : 'none internet-facing'),
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

/** The deadlines each priority would have: what a reviewer's priority change moves the patch to. */
export function deadlinesByPriority(policy: Policy, cves: CveFacts[], now: Date): Record<Priority, PriorityResult['deadlines']> {
  const exploited = cves.filter((c) => c.kev);
  const table = (p: Priority) => deadlinesFor(policy, p, exploited, now, []);
  return { 1: table(1), 2: table(2), 3: table(3), 4: table(4) };
}
