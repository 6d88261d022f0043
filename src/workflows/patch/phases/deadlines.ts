/**
 * The patch's deadlines as durable timers (docs/process.md, "Durations and policy"): at the
 * recommended deadline an open patch escalates; at the maximum deadline every host still owed
 * the patch and not covered by a running exception is recorded as an SLA breach, and the
 * stragglers are retried no more. It runs beside the phases, whatever they wait for.
 */
import { condition } from '@temporalio/workflow';
import { deployment } from '../calls';
import { now, type Patch } from '../patch';

type Deadline = 'recommended' | 'maximum';

/** The next deadline that has not passed yet, with its time. */
function nextDeadline(p: Patch): { deadline: Deadline; at: string } | undefined {
  const s = p.status;
  if (!s.deadlines) return undefined;
  const passed = new Set(s.deadlinesPassed.map((d) => d.deadline));
  if (!passed.has('recommended')) return { deadline: 'recommended', at: s.deadlines.recommended };
  if (!passed.has('maximum')) return { deadline: 'maximum', at: s.deadlines.maximum };
  return undefined;
}

export function maximumPassed(p: Patch): boolean {
  return p.status.deadlinesPassed.some((d) => d.deadline === 'maximum');
}

/** Sleeps until the next deadline (again when a revision or review moves it) and acts when it passes. */
export async function watchDeadlines(p: Patch): Promise<void> {
  for (;;) {
    if (p.closed || maximumPassed(p)) return;
    const next = nextDeadline(p);
    if (!next) {
      // not assessed yet: the deadlines come with the first evaluation
      await condition(() => p.closed || nextDeadline(p) !== undefined);
      continue;
    }
    const moved = () => {
      const now = nextDeadline(p);
      return now?.deadline !== next.deadline || now.at !== next.at;
    };
    if (await condition(() => p.closed || moved(), Math.max(Date.parse(next.at) - Date.now(), 1))) continue;
    p.deadlineWork = pass(p, next.deadline);
    try {
      await p.deadlineWork;
    } finally {
      p.deadlineWork = undefined;
    }
  }
}

async function pass(p: Patch, deadline: Deadline): Promise<void> {
  const s = p.status;
  const { recommended, maximum } = s.deadlines!;
  // once monitoring begins every host has an outcome: nothing is owed any more
  const owed = s.phase === 'monitoring' || s.phase === 'postmortem' ? [] : await owedHosts(p);
  let message: string;
  if (!owed) message = `The ${deadline} deadline (${s.deadlines![deadline]}) has passed before any host was patched (phase ${s.phase})`;
  else if (deadline === 'recommended')
    message = `The recommended deadline (${recommended}) has passed: ${owed.length} host(s) still owed the patch; the maximum is ${maximum}`;
  else message = `The maximum deadline (${maximum}) has passed: ${owed.length} host(s) breach the SLA`;
  if (deadline === 'maximum' && owed && owed.length > 0) {
    s.breaches = owed.map((h) => ({ assetId: h.assetId, reason: h.reason }));
    await deployment.recordBreaches({ patchId: p.id, hosts: s.breaches });
  }
  s.deadlinesPassed.push({ deadline, at: now(), message });
  if (owed?.length !== 0) p.tell(deadline === 'recommended' ? 'sla-at-risk' : 'escalation', message);
  // a straggler retry waiting for a window would keep verification open past the maximum
  if (deadline === 'maximum' && p.state.rollout?.wave?.selector.stragglersOnly) await p.controlWave('abort');
}

/** The hosts still owed the patch once hosts are being changed; undefined before the deployment started. */
async function owedHosts(p: Patch): Promise<{ assetId: string; reason: string }[] | undefined> {
  if (!p.state.rollout) return undefined;
  return deployment.stragglers(p.id);
}
