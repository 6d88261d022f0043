/**
 * Assessment (docs/process.md, step 1) over the inventory and the feeds: which hosts each advisory
 * applies to, and the patch's priority, reasons and deadlines. The pure rules live in
 * src/domain; this module does the reading and writing around them.
 */
import crypto from 'node:crypto';
import { fromVector } from 'ae-cvss-calculator';
import type { Pool } from 'pg';
import { CRITICALITIES } from '../domain/asset';
import { affectedPackages, type AffectedPackage } from '../domain/applicability';
import { preferredScore, type CvssScore, type CvssVersion } from '../domain/cve';
import { governanceTerms, rolloutPlanSettings, type Scope } from '../domain/governance';
import type { GovernanceTerms, PatchSettings, RolloutPlanSettings } from '../domain/patch-status';
import type { Environment, Strategy } from '../domain/patch';
import type { Priority } from '../domain/policy';
import { assessPriority, deadlinesByPriority, type AffectedFacts, type CveFacts, type PriorityResult } from '../domain/priority';
import { candidateGroups } from '../db/assets';
import { loadAdvisories, type AdvisoryView } from '../db/feeds';
import { currentPolicy } from '../db/policy';
import { inTransaction } from '../db/transaction';

export class UnknownAdvisoriesError extends Error {
  constructor(readonly ids: string[]) {
    super(`Unknown advisor${ids.length === 1 ? 'y' : 'ies'}: ${ids.join(', ')} (import the feed first)`);
  }
}

export async function findAffected(
  pool: Pool,
  advisoryIds: string[],
): Promise<{ advisories: AdvisoryView[]; affected: AffectedPackage[] }> {
  const views = await loadAdvisories(pool, advisoryIds);
  const unknown = advisoryIds.filter((id) => !views.has(id));
  if (unknown.length > 0) throw new UnknownAdvisoriesError(unknown);
  const advisories = advisoryIds.map((id) => views.get(id)!);
  const names = [...new Set(advisories.flatMap((a) => a.affectedPackages.flatMap((p) => [p.name, ...p.binaries])))];
  const groups = await candidateGroups(pool, names);
  return { advisories, affected: advisories.flatMap((a) => affectedPackages(a.record, groups)) };
}

/** What a patch's evaluation starts from: its advisories and the request's own settings. */
export interface AssessmentInput {
  patchId: string;
  advisoryIds: string[];
  emergency?: boolean;
  strategy?: Strategy;
  settings?: PatchSettings;
  /** The deadlines run from here (when the patch was opened), however often it is assessed again. */
  since?: string;
}

export interface AssessmentResult {
  cves: string[];
  knownExploited: boolean;
  affectedAssets: number;
  targets: Record<Environment, number>;
  priority: PriorityResult['priority'];
  priorityName: PriorityResult['name'];
  priorityReasons: string[];
  deadlines: PriorityResult['deadlines'];
  /** The deadlines if reviewers move the patch to another priority. */
  deadlinesByPriority: Record<Priority, PriorityResult['deadlines']>;
  policyVersion: number;
  governance: GovernanceTerms;
  plan: RolloutPlanSettings;
  scope: Scope;
}

/**
 * Assesses a patch and records its targets in `patch_targets` (replacing any earlier assessment
 * of the same patch, so a retry writes the same rows again and nothing twice).
 */
export async function assessPatch(pool: Pool, input: AssessmentInput, now: Date): Promise<AssessmentResult> {
  const found = await findAffected(pool, input.advisoryIds);
  const advisories = found.advisories;
  const affected = [...found.affected, ...(await remediatedByPatch(pool, input.patchId, found.affected))];
  await recordTargets(pool, input.patchId, affected);

  const assets = new Map(affected.map((a) => [a.asset.id, a.asset]));
  const targets: Record<Environment, number> = { lab: 0, pilot: 0, production: 0 };
  for (const asset of assets.values()) targets[asset.environment]++;

  const { version, policy } = await currentPolicy(pool);
  const cves = cveFacts(advisories);
  const since = input.since ? new Date(input.since) : now;
  const result = assessPriority(policy, cves, affectedFacts([...assets.values()]), since);
  const knownExploited = advisories.some((a) => a.knownExploited);
  const request = { emergency: input.emergency ?? false, strategy: input.strategy, settings: input.settings ?? {} };
  const plan = rolloutPlanSettings(policy, request, knownExploited);
  return {
    cves: [...new Set(advisories.flatMap((a) => a.cves.map((c) => c.id)))].sort(),
    knownExploited,
    affectedAssets: assets.size,
    targets,
    priority: result.priority,
    priorityName: result.name,
    priorityReasons: result.reasons,
    deadlines: result.deadlines,
    deadlinesByPriority: deadlinesByPriority(policy, cves, since),
    policyVersion: version,
    governance: governanceTerms(policy, request, result.priority),
    plan,
    scope: scopeOf(input.advisoryIds, affected, result.priority, plan, targets),
  };
}

/**
 * The targets this patch has already fixed (its deployment changed them): no longer affected in
 * the inventory, still part of what the approval covers, so evaluating the scope again during
 * the rollout does not mistake the patch's own progress for a change of scope.
 */
async function remediatedByPatch(pool: Pool, patchId: string, affected: AffectedPackage[]): Promise<AffectedPackage[]> {
  const { rows } = await pool.query<{
    asset: AffectedPackage['asset'];
    advisory_id: string;
    package: string;
    installed_version: string;
    fixed_version: string | null;
  }>(
    `SELECT json_build_object('id', a.id, 'environment', a.environment, 'criticality', a.criticality,
                              'exposure', a.exposure, 'compensatingControls', a.compensating_controls) AS asset,
            t.advisory_id, t.package, t.installed_version, t.fixed_version
     FROM patch_targets t
     JOIN deployment_hosts h ON h.patch_id = t.patch_id AND h.asset_id = t.asset_id AND h.changed
     JOIN assets a ON a.id = t.asset_id
     WHERE t.patch_id = $1`,
    [patchId],
  );
  const present = new Set(affected.map((a) => `${a.asset.id}\u0000${a.advisoryId}\u0000${a.package}`));
  return rows
    .filter((r) => !present.has(`${r.asset.id}\u0000${r.advisory_id}\u0000${r.package}`))
    .map((r) => ({
      asset: r.asset,
      advisoryId: r.advisory_id,
      package: r.package,
      installedVersion: r.installed_version,
      fixedVersion: r.fixed_version,
    }));
}

const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest('hex');

/** The digest an approval records: advisories, every (asset, advisory, package, fixed version), priority, plan. */
function scopeOf(
  advisoryIds: string[],
  affected: AffectedPackage[],
  priority: Priority,
  plan: RolloutPlanSettings,
  targets: Record<Environment, number>,
): Scope {
  const parts = {
    advisories: sha256([...advisoryIds].sort().join('\n')),
    targets: sha256(
      affected
        .map((a) => `${a.asset.id}\u0000${a.advisoryId}\u0000${a.package}\u0000${a.fixedVersion ?? ''}`)
        .sort()
        .join('\n'),
    ),
    priority,
    plan: sha256(JSON.stringify(plan, Object.keys(plan).sort())),
  };
  return { digest: sha256(JSON.stringify(parts)), parts, targets };
}

function recordTargets(pool: Pool, patchId: string, affected: AffectedPackage[]): Promise<void> {
  return inTransaction(pool, async (client) => {
    await client.query('DELETE FROM patch_targets WHERE patch_id = $1', [patchId]);
    const rows = new Map(affected.map((a) => [`${a.asset.id}\u0000${a.advisoryId}\u0000${a.package}`, a]));
    const list = [...rows.values()];
    for (let i = 0; i < list.length; i += 10_000) {
      const chunk = list.slice(i, i + 10_000);
      await client.query(
        `INSERT INTO patch_targets (patch_id, asset_id, environment, advisory_id, package, installed_version, fixed_version)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`,
        [
          patchId,
          chunk.map((a) => a.asset.id),
          chunk.map((a) => a.asset.environment),
          chunk.map((a) => a.advisoryId),
          chunk.map((a) => a.package),
          chunk.map((a) => a.installedVersion),
          chunk.map((a) => a.fixedVersion),
        ],
      );
    }
  });
}

function affectedFacts(assets: AffectedPackage['asset'][]): AffectedFacts {
  const highest = assets.reduce((max, a) => Math.max(max, CRITICALITIES.indexOf(a.criticality)), 0);
  const everyHasControls = assets.length > 0 && assets.every((a) => a.compensatingControls.length > 0);
  return {
    count: assets.length,
    highestCriticality: CRITICALITIES[highest]!,
    internetFacing: assets.filter((a) => a.exposure === 'internet').length,
    allIsolated: assets.length > 0 && assets.every((a) => a.exposure === 'isolated'),
    controlsOnAll: everyHasControls ? [...new Set(assets.flatMap((a) => a.compensatingControls))].sort() : [],
  };
}

/**
 * The CVSS that counts per CVE: the CVE record's (see `preferredScore`); without a CVE record,
 * the vectors the OSV advisory carries for it (per-CVE in Ubuntu's `cves_map`, else the
 * advisory's own `severity`), scored with the FIRST formulas.
 */
function cveFacts(advisories: AdvisoryView[]): CveFacts[] {
  const facts = new Map<string, CveFacts>();
  for (const advisory of advisories) {
    const osvVectors = osvSeverityByCve(advisory);
    const ids = advisory.cves.length > 0 ? advisory.cves.map((c) => c.id) : [advisory.id];
    for (const id of ids) {
      const cve = advisory.cves.find((c) => c.id === id);
      const recordScore = preferredScore((cve?.cvss ?? []) as CvssScore[]);
      const score = recordScore ?? scoreVectors(osvVectors.get(id) ?? osvVectors.get('*') ?? []);
      const fact: CveFacts = { id };
      if (score) fact.cvss = { score: score.baseScore, version: score.version, source: score.source };
      if (cve?.kev) fact.kev = { dateAdded: cve.kev.dateAdded, dueDate: cve.kev.dueDate, ransomware: cve.kev.knownRansomwareCampaignUse };
      const previous = facts.get(id);
      if (!previous || (!previous.cvss && fact.cvss)) facts.set(id, fact);
    }
  }
  return [...facts.values()];
}

function osvSeverityByCve(advisory: AdvisoryView): Map<string, string[]> {
  const byCve = new Map<string, string[]>();
  const add = (key: string, vector: string) => byCve.set(key, [...(byCve.get(key) ?? []), vector]);
  for (const s of advisory.record.severity ?? []) if (s.type.startsWith('CVSS')) add('*', s.score);
  for (const affected of advisory.record.affected) {
    const map = (affected.database_specific as { cves_map?: { cves?: { id?: string; severity?: { type: string; score: string }[] }[] } })
      ?.cves_map;
    for (const cve of map?.cves ?? []) {
      for (const s of cve.severity ?? []) if (cve.id && s.type.startsWith('CVSS')) add(cve.id, s.score);
    }
  }
  return byCve;
}

/** What the calculator's `fromVector` returns (it is typed `any`): a CVSS 2, 3.x or 4 vector. */
interface ParsedVector {
  getVectorName(): string;
  calculateScores(): { base?: number };
}

function scoreVectors(vectors: string[]): CvssScore | undefined {
  const scores: CvssScore[] = [];
  for (const vector of new Set(vectors)) {
    const parsed = fromVector(vector) as ParsedVector | undefined;
    if (!parsed) continue;
    const version = parsed.getVectorName().replace('CVSS:', '') as CvssVersion;
    const base = parsed.calculateScores().base;
    if (typeof base === 'number') scores.push({ version, baseScore: base, vector, source: 'osv' });
  }
  return preferredScore(scores);
}
