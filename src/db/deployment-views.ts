/**
 * Read-only views of the deployment tables: a patch's hosts (`GET /v1/patches/:id/hosts`), the
 * records its report is built from, and the rows compliance is judged from.
 */
import type { Pool, QueryResultRow } from 'pg';
import type { ComplianceFacts } from '../domain/compliance';
import type { HostRecord } from '../domain/host-record';
import { HOST_STATUSES, type HostStatus } from '../domain/deployment';
import type { Environment } from '../domain/patch';
import type { Priority } from '../domain/policy';
import type { DeploymentInfo, ReportInput } from '../domain/report';

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export async function getDeployment(pool: Pool, patchId: string): Promise<DeploymentInfo | undefined> {
  const { rows } = await pool.query('SELECT * FROM patch_deployments WHERE patch_id = $1', [patchId]);
  const r = rows[0];
  if (!r) return undefined;
  return {
    patchId: r.patch_id,
    title: r.title,
    priority: r.priority,
    emergency: r.emergency,
    openedAt: r.opened_at.toISOString(),
    deadlines: { recommended: r.recommended_deadline.toISOString(), maximum: r.maximum_deadline.toISOString() },
    startedAt: r.started_at.toISOString(),
    finishedAt: iso(r.finished_at),
    outcome: r.outcome,
  };
}

export interface HostQuery {
  statuses?: HostStatus[];
  ring?: Environment;
  wave?: number;
  limit: number;
  offset: number;
  /** Include each host's step records. */
  steps: boolean;
}

/** Lab, pilot, then production wave by wave, each in rollout order. */
const HOST_ORDER = `array_position(ARRAY['lab', 'pilot', 'production'], ring), wave NULLS FIRST, position, asset_id`;

function toHostRecord(r: QueryResultRow): HostRecord {
  return {
    assetId: r.asset_id,
    ring: r.ring,
    wave: r.wave,
    status: r.status,
    reason: r.reason,
    attempts: r.attempts,
    changed: r.changed,
    previousVersions: r.previous_versions,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  };
}

const HOST_COLUMNS = 'asset_id, ring, wave, status, reason, attempts, changed, previous_versions, started_at, finished_at';

/**
 * One page of a patch's hosts matching the filters, how many match (`total`), and the host counts
 * by status of the whole patch (every status, zeros included).
 */
export async function listHosts(
  pool: Pool,
  patchId: string,
  query: HostQuery,
): Promise<{ hosts: HostRecord[]; total: number; counts: Record<HostStatus, number> }> {
  const params: unknown[] = [patchId];
  const where = ['patch_id = $1'];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (query.statuses) add('status = ANY(?)', query.statuses);
  if (query.ring) add('ring = ?', query.ring);
  if (query.wave !== undefined) add('wave = ?', query.wave);
  const clause = where.join(' AND ');
  params.push(query.limit, query.offset);
  const [page, total, byStatus] = await Promise.all([
    pool.query(
      `SELECT ${HOST_COLUMNS} FROM deployment_hosts WHERE ${clause}
       ORDER BY ${HOST_ORDER} LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    ),
    pool.query<{ n: string }>(`SELECT count(*) AS n FROM deployment_hosts WHERE ${clause}`, params.slice(0, -2)),
    pool.query<{ status: HostStatus; n: string }>(
      'SELECT status, count(*) AS n FROM deployment_hosts WHERE patch_id = $1 GROUP BY status',
      [patchId],
    ),
  ]);
  const hosts = page.rows.map(toHostRecord);
  if (query.steps && hosts.length > 0) await attachSteps(pool, patchId, hosts);
  const counts = Object.fromEntries(HOST_STATUSES.map((s) => [s, 0])) as Record<HostStatus, number>;
  for (const r of byStatus.rows) counts[r.status] = Number(r.n);
  return { hosts, total: Number(total.rows[0]!.n), counts };
}

async function attachSteps(pool: Pool, patchId: string, hosts: HostRecord[]) {
  const { rows } = await pool.query(
    `SELECT asset_id, attempt, step, ok, detail, changes, at FROM deployment_records
     WHERE patch_id = $1 AND asset_id = ANY($2) ORDER BY id`,
    [patchId, hosts.map((h) => h.assetId)],
  );
  for (const h of hosts) h.steps = [];
  const byAsset = new Map(hosts.map((h) => [h.assetId, h.steps!]));
  for (const r of rows) {
    byAsset.get(r.asset_id)!.push({
      attempt: r.attempt,
      step: r.step,
      ok: r.ok,
      detail: r.detail ?? '',
      ...(r.changes ? { changes: r.changes } : {}),
      at: r.at.toISOString(),
    });
  }
}

/** Everything a patch's report is built from but its workflow status; undefined before deployment. */
export async function reportRecords(pool: Pool, patchId: string): Promise<Omit<ReportInput, 'status'> | undefined> {
  const deployment = await getDeployment(pool, patchId);
  if (!deployment) return undefined;
  const [hosts, exceptions, deferrals, breaches] = await Promise.all([
    pool.query(`SELECT ${HOST_COLUMNS} FROM deployment_hosts WHERE patch_id = $1 ORDER BY ${HOST_ORDER}`, [patchId]),
    pool.query('SELECT * FROM host_exceptions WHERE patch_id = $1 ORDER BY at, id', [patchId]),
    pool.query('SELECT * FROM host_deferrals WHERE patch_id = $1 ORDER BY at, id', [patchId]),
    pool.query('SELECT * FROM sla_breaches WHERE patch_id = $1 ORDER BY at, asset_id', [patchId]),
  ]);
  return {
    deployment,
    hosts: hosts.rows.map(toHostRecord),
    exceptions: exceptions.rows.map((r) => ({
      assetId: r.asset_id,
      compensatingControl: r.compensating_control,
      expiresAt: r.expires_at.toISOString(),
      approvedBy: r.approved_by,
      at: r.at.toISOString(),
    })),
    deferrals: deferrals.rows.map((r) => ({
      assetId: r.asset_id,
      until: r.until.toISOString(),
      reason: r.reason,
      requestedBy: r.requested_by,
      at: r.at.toISOString(),
    })),
    breaches: breaches.rows.map((r) => ({ assetId: r.asset_id, reason: r.reason, at: r.at.toISOString() })),
  };
}

export interface ComplianceFilters {
  assetId?: string;
  patchId?: string;
  priority?: Priority;
}

/** One row per (host, deployed patch), with the host's longest-lasting exception and deferral and its breach. */
export async function complianceFacts(pool: Pool, filters: ComplianceFilters): Promise<ComplianceFacts[]> {
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filters.assetId) add('h.asset_id = ?', filters.assetId);
  if (filters.patchId) add('h.patch_id = ?', filters.patchId);
  if (filters.priority) add('p.priority = ?', filters.priority);
  const { rows } = await pool.query(
    `SELECT h.asset_id, h.patch_id, p.title, p.priority, p.emergency, h.ring, h.status, h.reason, h.finished_at,
            p.opened_at, p.recommended_deadline, p.maximum_deadline,
            e.compensating_control, e.expires_at, d.until, d.reason AS deferral_reason, b.reason AS breach_reason
     FROM deployment_hosts h
     JOIN patch_deployments p ON p.patch_id = h.patch_id
     LEFT JOIN LATERAL (SELECT compensating_control, expires_at FROM host_exceptions x
                        WHERE x.patch_id = h.patch_id AND x.asset_id = h.asset_id ORDER BY x.expires_at DESC, x.id DESC LIMIT 1) e ON true
     LEFT JOIN LATERAL (SELECT until, reason FROM host_deferrals x
                        WHERE x.patch_id = h.patch_id AND x.asset_id = h.asset_id ORDER BY x.until DESC, x.id DESC LIMIT 1) d ON true
     LEFT JOIN sla_breaches b ON b.patch_id = h.patch_id AND b.asset_id = h.asset_id
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY h.asset_id, p.priority, h.patch_id`,
    params,
  );
  return rows.map((r) => ({
    assetId: r.asset_id,
    patchId: r.patch_id,
    title: r.title,
    priority: r.priority,
    emergency: r.emergency,
    ring: r.ring,
    status: r.status,
    reason: r.reason,
    openedAt: r.opened_at.toISOString(),
    deadlines: { recommended: r.recommended_deadline.toISOString(), maximum: r.maximum_deadline.toISOString() },
    finishedAt: iso(r.finished_at),
    exception: r.expires_at ? { compensatingControl: r.compensating_control, expiresAt: r.expires_at.toISOString() } : null,
    deferral: r.until ? { until: r.until.toISOString(), reason: r.deferral_reason } : null,
    breach: r.breach_reason === null ? null : { reason: r.breach_reason },
  }));
}
