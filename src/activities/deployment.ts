/**
 * The deployment activities of the shared task queue (docs/process.md, steps 4–9): the plan of lab,
 * pilot and production waves, host pages with their maintenance windows, verification with the
 * assessment's matcher, stragglers, exceptions, deferrals and SLA breaches.
 *
 * Every time they record or compare with "now" is the activity's clock (`activityNow`, ./clock),
 * which follows the workflow's time on a time-skipping test server.
 */
import type { ActivityDeps } from './index';
import { activityNow } from './clock';
import * as db from '../db/deployments';
import { currentPolicy } from '../db/policy';
import { inTransaction } from '../db/transaction';
import { packageVersionScheme } from '../domain/asset';
import type { HostStatus, WaveHost } from '../domain/deployment';
import { parseDuration } from '../domain/duration';
import type { Environment } from '../domain/patch';
import { nextPatchWindow, planWaves, strategyOrder, type ChangeFreeze } from '../domain/planner';
import { compareVersions } from '../domain/versions';
import { findAffected } from '../services/assessment';
import type { DeploymentActivities } from './deployment-contract';

/** `nextPatchWindow`'s end of a window that never closes. */
const NEVER_CLOSES = 8.64e15;

export function createDeploymentActivities({ pool }: ActivityDeps): DeploymentActivities {
  return {
    async startDeployment(input) {
      const [targets, { policy }] = await Promise.all([db.deploymentTargets(pool, input.patchId), currentPolicy(pool)]);
      const at = activityNow();
      const plan = await inTransaction(pool, async (client) => {
        await db.upsertDeployment(
          client,
          {
            patchId: input.patchId,
            title: input.title,
            priority: input.priority,
            emergency: input.emergency,
            openedAt: input.openedAt,
            recommended: input.deadlines.recommended,
            maximum: input.deadlines.maximum,
          },
          at,
        );
        const started = await db.startedHosts(client, input.patchId);
        const keep = new Set(started.map((h) => h.assetId));
        const open = targets.filter((t) => !keep.has(t.assetId));
        // re-planned hosts come after every started one: positions stay unique, waves stay apart
        let position = started.reduce((max, h) => Math.max(max, h.position), -1) + 1;
        const firstWave = started.reduce((max, h) => (h.ring === 'production' ? Math.max(max, h.wave ?? -1) : max), -1) + 1;

        const planned: db.PlannedHost[] = [];
        const byId = new Map(open.map((t) => [t.assetId, t]));
        const place = (id: string, ring: Environment, wave: number | null) => {
          const t = byId.get(id)!;
          planned.push({
            assetId: id,
            ring,
            wave,
            position: position++,
            redundancyGroup: t.redundancyGroup,
            connector: t.connector,
            packages: fixedVersions(t),
          });
        };
        const asPlanTarget = (t: db.DeploymentTarget) => ({
          id: t.assetId,
          criticality: t.criticality,
          exposure: t.exposure,
          redundancyGroup: t.redundancyGroup,
        });
        for (const ring of ['lab', 'pilot'] as const) {
          for (const t of strategyOrder(open.filter((o) => o.environment === ring).map(asPlanTarget), input.plan.strategy))
            place(t.id, ring, null);
        }
        const production = open.filter((o) => o.environment === 'production').map(asPlanTarget);
        const waves = planWaves(production, {
          strategy: input.plan.strategy,
          waveSize: Math.max(1, Math.ceil(production.length / input.plan.productionWaves)),
          maxPerGroupPerWave: input.plan.maxPerGroupPerWave,
        });
        for (const wave of waves) for (const id of wave.assets) place(id, 'production', firstWave + wave.index);

        await db.replanHosts(client, input.patchId, planned, at);
        return db.deploymentPlan(client, input.patchId);
      });
      return { ...plan, feedbackThreshold: policy.rollout.feedbackThreshold };
    },

    async waveHosts(input) {
      // the workflow's time when it passes it, else the activity's clock (the same under a time-skipping test server)
      const now = input.at ? new Date(input.at) : activityNow();
      const [rows, { policy }] = await Promise.all([db.waveHosts(pool, input, now), currentPolicy(pool)]);
      const freezes: ChangeFreeze[] = policy.rollout.changeFreezes;
      const minRemaining = parseDuration(policy.rollout.minWindowRemaining)!;
      return rows.map((r): WaveHost => {
        const window = nextPatchWindow(
          { timezone: r.timezone, maintenanceWindows: r.maintenanceWindows },
          now,
          freezes,
          input.bypassWindows,
          minRemaining,
        );
        const closes = window && window.end.getTime() < NEVER_CLOSES ? window.end : null;
        return {
          assetId: r.assetId,
          position: r.position,
          connector: r.connector,
          redundancyGroup: r.redundancyGroup,
          role: r.role,
          packages: r.packages,
          status: r.status,
          window: window
            ? {
                opensAt: window.start.toISOString(),
                closesAt: closes?.toISOString() ?? null,
                startBy: closes ? new Date(closes.getTime() - minRemaining).toISOString() : null,
              }
            : null,
        };
      });
    },

    async recordHostSteps({ work, result }) {
      const status: HostStatus = result.status === 'reboot-required' ? 'rebooting' : result.status;
      await inTransaction(pool, (client) =>
        // the agent's steps keep the times the host reported; the host row's times are the activity's
        db.recordAgentResult(client, work, { status, reason: result.reason ?? null, steps: result.steps }, activityNow()),
      );
    },

    markHost: (input) => db.markHost(pool, input, activityNow()),

    // stamped with the workflow's time, so a retry finds its own record and adds nothing
    recordOverrun: ({ patchId, assetId, attempt, windowClosedAt, at }) => {
      const over = Math.round((Date.parse(at) - Date.parse(windowClosedAt)) / 60_000);
      const detail = `still running when its maintenance window closed at ${windowClosedAt}; finished ${over} min later`;
      return db.appendSteps(pool, { patchId, assetId, attempt }, [{ step: 'overrun', ok: false, detail, at }]);
    },

    hostCounts: (patchId) => db.hostCounts(pool, patchId),

    async verifyHosts({ patchId, advisoryIds }) {
      const { affected } = await findAffected(pool, advisoryIds);
      const details = new Map<string, string[]>();
      for (const a of affected) {
        const detail = `${a.package} ${a.installedVersion} ${a.fixedVersion ? `is below ${a.fixedVersion}` : 'has no fixed version'} (${a.advisoryId})`;
        details.set(a.asset.id, [...(details.get(a.asset.id) ?? []), detail]);
      }
      const [verified, agentHosts] = await Promise.all([
        inTransaction(pool, (client) =>
          db.applyVerification(
            client,
            patchId,
            [...details].map(([assetId, list]) => ({ assetId, detail: list.join('; ') })),
            activityNow(),
          ),
        ),
        db.hostsOnConnector(pool, patchId, 'agent'),
      ]);
      return {
        checked: verified.checked,
        nonCompliant: verified.nonCompliant.map((h) => ({ assetId: h.assetId, compliant: false, reason: h.reason })),
        agentHosts,
      };
    },

    stragglers: (patchId) => db.stragglers(pool, patchId, activityNow()),

    recordException: (input) => inTransaction(pool, (client) => db.recordException(client, input, activityNow())),

    recordDeferral: (input) => inTransaction(pool, (client) => db.recordDeferral(client, input, activityNow())),

    recordBreaches: ({ patchId, hosts }) => db.recordBreaches(pool, patchId, hosts, activityNow()),

    changedHosts: ({ patchId, limit }) => db.changedHosts(pool, patchId, limit),

    finishDeployment: ({ patchId, outcome }) => db.finishDeployment(pool, patchId, outcome, activityNow()),
  };
}

/** {name: fixedVersion} for a host: the highest fixed version any of the advisories names for each package. */
function fixedVersions(target: db.DeploymentTarget): Record<string, string> {
  const packages: Record<string, string> = {};
  for (const fix of target.fixes) {
    const known = packages[fix.name];
    const scheme = packageVersionScheme(target.os, fix.ecosystem);
    if (known === undefined || (scheme && compareVersions(scheme, fix.fixed, known) > 0)) packages[fix.name] = fix.fixed;
  }
  return packages;
}
