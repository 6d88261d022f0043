/**
 * What the work-order signing activity (src/activities/work-orders.ts) checks a request against:
 * PostgreSQL, which only patchflow writes. Nothing here writes.
 */
import type { Pool } from 'pg';
import type { HostStatus } from '../domain/deployment';

/** A host's row in the patch's deployment (`deployment_hosts`). */
export interface DeploymentHostRow {
  status: HostStatus;
  /** {name: fixedVersion} this patch installs. */
  packages: Record<string, string>;
  /** {name: version} before this patch first changed the host. */
  previousVersions: Record<string, string>;
}

export async function deploymentHost(pool: Pool, patchId: string, assetId: string): Promise<DeploymentHostRow | undefined> {
  const { rows } = await pool.query(
    'SELECT status, packages, previous_versions FROM deployment_hosts WHERE patch_id = $1 AND asset_id = $2',
    [patchId, assetId],
  );
  const r = rows[0];
  return r ? { status: r.status, packages: r.packages ?? {}, previousVersions: r.previous_versions ?? {} } : undefined;
}

/**
 * Whether an approver approved the patch through the API: the append-only audit trail holds a
 * successful `POST /v1/patches/<id>/decision` whose body's decision is `approve`.
 */
export async function approvedThroughApi(pool: Pool, patchId: string): Promise<boolean> {
  const { rows } = await pool.query(
    `SELECT 1 FROM audit_log
     WHERE method = 'POST' AND path = $1 AND status = 200 AND body->>'decision' = 'approve'
     LIMIT 1`,
    [`/v1/patches/${encodeURIComponent(patchId)}/decision`],
  );
  return rows.length > 0;
}
