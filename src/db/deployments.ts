/**
 * Deployment rows (migration 1763800400000): the patch, its hosts with their pipeline stage, the
 * append-only step records, exceptions, deferrals and SLA breaches. Thin SQL; every write is
 * keyed so a retried activity writes nothing twice.
 */
import crypto from 'node:crypto';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { ConnectorName, Criticality, Exposure } from '../domain/asset';
import type { StepRecord } from '../domain/host-record';
import type { HostStatus, HostWork, PackageTarget, WaveHost } from '../domain/deployment';
import type { MaintenanceWindow } from '../domain/planner';
import type { Straggler } from '../domain/patch-status';
import type { Environment, Outcome } from '../domain/patch';
import type { PackageSetChange, StoredPackages } from './assets';

export type Db = Pool | PoolClient;

/**
 * A statement run on every host's pipeline: prepared once per connection (named by its text), so
 * PostgreSQL parses and plans it once instead of on every host.
 */
function prepared(text: string, values: unknown[]) {
  return { name: `pf-${crypto.createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text, values };
}

/** The resume point of a host's pipeline inside one attempt. */
export type Stage = 'new' | 'prepared' | 'changed' | 'rebooted' | 'done';

export interface HostState {
  status: HostStatus;
  stage: Stage;
  reason: string | null;
  attempts: number;
  changed: boolean;
  previousVersions: Record<string, string> | null;
  backAt: Date | null;
}

/** A host as planned: where it runs in the rollout and what it gets. */
export interface PlannedHost {
  assetId: string;
  ring: Environment;
  wave: number | null;
  position: number;
  redundancyGroup: string | null;
  connector: ConnectorName;
  packages: Record<string, string>;
}

const CHUNK = 10_000;

/**
 * A host still owed this patch: not compliant, and neither under an exception nor a deferral
 * that is still running at `at` (the SQL parameter holding the caller's now; an expired one makes
 * the host a straggler again).
 */
const straggler = (at: string) => `h.status NOT IN ('installed', 'skipped')
  AND NOT EXISTS (SELECT 1 FROM host_exceptions e WHERE e.patch_id = h.patch_id AND e.asset_id = h.asset_id AND e.expires_at > ${at}::timestamptz)
  AND NOT EXISTS (SELECT 1 FROM host_deferrals d WHERE d.patch_id = h.patch_id AND d.asset_id = h.asset_id AND d.until > ${at}::timestamptz)`;

const STRAGGLER_REASON = `CASE h.status WHEN 'excepted' THEN 'exception expired'
  WHEN 'deferred' THEN 'deferral ended'
  WHEN 'pending' THEN coalesce(h.reason, 'not deployed yet')
  ELSE coalesce(h.reason, h.status) END`;

const packageTargets = (packages: Record<string, string>): PackageTarget[] =>
  Object.entries(packages).map(([name, fixedVersion]) => ({ name, fixedVersion }));

/** Records the patch's deployment; `at` is its start time, kept when it is recorded again. */
export async function upsertDeployment(
  db: Db,
  d: { patchId: string; title: string; priority: number; emergency: boolean; openedAt: string; recommended: string; maximum: string },
  at: Date,
): Promise<void> {
  await db.query(
    `INSERT INTO patch_deployments (patch_id, title, priority, emergency, opened_at, recommended_deadline, maximum_deadline, started_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz)
     ON CONFLICT (patch_id) DO UPDATE SET title = EXCLUDED.title, priority = EXCLUDED.priority, emergency = EXCLUDED.emergency,
       opened_at = EXCLUDED.opened_at, recommended_deadline = EXCLUDED.recommended_deadline, maximum_deadline = EXCLUDED.maximum_deadline`,
    [d.patchId, d.title, d.priority, d.emergency, d.openedAt, d.recommended, d.maximum, at],
  );
}

export interface DeploymentTarget {
  assetId: string;
  environment: Environment;
  criticality: Criticality;
  exposure: Exposure;
  redundancyGroup: string | null;
  connector: ConnectorName;
  os: { name: string; version: string };
  /** Every fixed version the assessment found per package, with the package's language ecosystem ('' for the OS's). */
  fixes: { name: string; fixed: string; ecosystem: string }[];
}

/** The patch's assessed targets (`patch_targets`) with what the planner needs of each asset. */
export async function deploymentTargets(db: Db, patchId: string): Promise<DeploymentTarget[]> {
  const { rows } = await db.query(
    `SELECT a.id, a.environment, a.criticality, a.exposure, a.redundancy_group, a.connector, a.os_name, a.os_version,
            coalesce(json_agg(json_build_object('name', t.package, 'fixed', t.fixed_version, 'ecosystem', coalesce(e.ecosystem, '')))
                     FILTER (WHERE t.fixed_version IS NOT NULL), '[]') AS fixes
     FROM patch_targets t
     JOIN assets a ON a.id = t.asset_id
     LEFT JOIN LATERAL (SELECT max(p.ecosystem) AS ecosystem FROM packages p WHERE p.name = t.package AND p.version = t.installed_version) e ON true
     WHERE t.patch_id = $1
     GROUP BY a.id
     ORDER BY a.id`,
    [patchId],
  );
  return rows.map((r) => ({
    assetId: r.id,
    environment: r.environment,
    criticality: r.criticality,
    exposure: r.exposure,
    redundancyGroup: r.redundancy_group,
    connector: r.connector,
    os: { name: r.os_name, version: r.os_version },
    fixes: r.fixes,
  }));
}

/** The patch's hosts that have started (or been marked), locked until the transaction ends; the others may be re-planned. */
export async function startedHosts(
  client: PoolClient,
  patchId: string,
): Promise<{ assetId: string; ring: Environment; wave: number | null; position: number }[]> {
  const { rows } = await client.query(
    `SELECT asset_id, ring, wave, position, status = 'pending' AND attempts = 0 AS unstarted
     FROM deployment_hosts WHERE patch_id = $1 ORDER BY asset_id FOR UPDATE`,
    [patchId],
  );
  return rows.filter((r) => !r.unstarted).map((r) => ({ assetId: r.asset_id, ring: r.ring, wave: r.wave, position: r.position }));
}

/**
 * Writes the plan of the hosts not yet started: new ones are added, unstarted ones moved, and
 * unstarted ones no longer planned removed. Started hosts are never touched.
 */
export async function replanHosts(client: PoolClient, patchId: string, hosts: PlannedHost[], at: Date): Promise<void> {
  await client.query(
    `DELETE FROM deployment_hosts WHERE patch_id = $1 AND status = 'pending' AND attempts = 0 AND NOT (asset_id = ANY($2))`,
    [patchId, hosts.map((h) => h.assetId)],
  );
  for (let i = 0; i < hosts.length; i += CHUNK) {
    const chunk = hosts.slice(i, i + CHUNK);
    await client.query(
      `INSERT INTO deployment_hosts (patch_id, asset_id, ring, wave, position, redundancy_group, connector, packages, updated_at)
       SELECT $1, *, $9::timestamptz FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::jsonb[])
       ON CONFLICT (patch_id, asset_id) DO UPDATE SET
         ring = EXCLUDED.ring, wave = EXCLUDED.wave, position = EXCLUDED.position, redundancy_group = EXCLUDED.redundancy_group,
         connector = EXCLUDED.connector, packages = EXCLUDED.packages, updated_at = EXCLUDED.updated_at
       WHERE deployment_hosts.status = 'pending' AND deployment_hosts.attempts = 0`,
      [
        patchId,
        chunk.map((h) => h.assetId),
        chunk.map((h) => h.ring),
        chunk.map((h) => h.wave),
        chunk.map((h) => h.position),
        chunk.map((h) => h.redundancyGroup),
        chunk.map((h) => h.connector),
        chunk.map((h) => JSON.stringify(h.packages)),
        at,
      ],
    );
  }
}

/** The recorded plan: hosts per ring, production wave sizes, and the roles no lab host covers. */
export async function deploymentPlan(
  db: Db,
  patchId: string,
): Promise<{ lab: number; pilot: number; waves: { index: number; size: number }[]; uncoveredRoles: string[] }> {
  const counts = await db.query<{ ring: Environment; wave: number | null; n: number }>(
    `SELECT ring, wave, count(*)::int AS n FROM deployment_hosts WHERE patch_id = $1 GROUP BY ring, wave ORDER BY ring, wave`,
    [patchId],
  );
  const roles = await db.query<{ role: string }>(
    `SELECT DISTINCT a.role FROM deployment_hosts h JOIN assets a ON a.id = h.asset_id
     WHERE h.patch_id = $1 AND h.ring <> 'lab' AND a.role IS NOT NULL
       AND a.role NOT IN (SELECT l.role FROM deployment_hosts lh JOIN assets l ON l.id = lh.asset_id
                          WHERE lh.patch_id = $1 AND lh.ring = 'lab' AND l.role IS NOT NULL)
     ORDER BY a.role`,
    [patchId],
  );
  const ring = (name: Environment) => counts.rows.filter((r) => r.ring === name).reduce((sum, r) => sum + r.n, 0);
  return {
    lab: ring('lab'),
    pilot: ring('pilot'),
    waves: counts.rows.filter((r) => r.ring === 'production').map((r) => ({ index: r.wave!, size: r.n })),
    uncoveredRoles: roles.rows.map((r) => r.role),
  };
}

/** A wave host as stored: its window is worked out from its time zone and maintenance windows. */
export type WaveHostRow = Omit<WaveHost, 'window'> & { timezone: string; maintenanceWindows: MaintenanceWindow[] };

/**
 * One page of hosts in plan order, after position `after` (positions are unique in a patch): a
 * ring/wave, or its stragglers as of `at`. A straggler sweep without a wave takes every straggler
 * of the patch, whatever its ring: the hosts `stragglers` lists.
 */
export async function waveHosts(
  db: Db,
  s: { patchId: string; ring: Environment; wave: number | null; after: number; limit: number; stragglersOnly?: boolean },
  at: Date,
): Promise<WaveHostRow[]> {
  const params: unknown[] = [s.patchId, s.after, s.limit];
  const where = ['h.patch_id = $1', 'h.position > $2'];
  if (s.stragglersOnly) {
    params.push(at);
    where.push(straggler(`$${params.length}`));
  }
  if (!s.stragglersOnly || s.wave !== null) {
    params.push(s.ring);
    where.push(`h.ring = $${params.length}`);
    if (s.wave === null) where.push('h.wave IS NULL');
    else {
      params.push(s.wave);
      where.push(`h.wave = $${params.length}`);
    }
  }
  const { rows } = await db.query(
    `SELECT h.asset_id, h.position, h.connector, h.redundancy_group, h.packages, h.status,
            a.role, coalesce(a.timezone, 'UTC') AS timezone, coalesce(a.maintenance_windows, '[]') AS maintenance_windows
     FROM deployment_hosts h LEFT JOIN assets a ON a.id = h.asset_id
     WHERE ${where.join(' AND ')}
     ORDER BY h.position
     LIMIT $3`,
    params,
  );
  return rows.map((r) => ({
    assetId: r.asset_id,
    position: r.position,
    connector: r.connector,
    redundancyGroup: r.redundancy_group,
    role: r.role,
    packages: packageTargets(r.packages),
    status: r.status,
    timezone: r.timezone,
    maintenanceWindows: r.maintenance_windows,
  }));
}

export async function hostCounts(db: Db, patchId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM deployment_hosts WHERE patch_id = $1 GROUP BY status ORDER BY status',
    [patchId],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** The patch's stragglers as of `at`: an exception or deferral that has ended by then no longer covers its host. */
export async function stragglers(db: Db, patchId: string, at: Date): Promise<Straggler[]> {
  const { rows } = await db.query(
    `SELECT h.asset_id, ${STRAGGLER_REASON} AS reason, h.attempts
     FROM deployment_hosts h WHERE h.patch_id = $1 AND ${straggler('$2')}
     ORDER BY h.position`,
    [patchId, at],
  );
  return rows.map((r) => ({ assetId: r.asset_id, reason: r.reason, attempts: r.attempts }));
}

/**
 * Up to `limit` hosts this patch changed and has not rolled back: production waves newest first,
 * then pilot, then lab; inside a wave, the last started first.
 */
export async function changedHosts(db: Db, patchId: string, limit: number): Promise<(HostWork & { connector: ConnectorName })[]> {
  const { rows } = await db.query(
    `SELECT asset_id, attempts, packages, previous_versions, connector FROM deployment_hosts
     WHERE patch_id = $1 AND changed
     ORDER BY CASE ring WHEN 'production' THEN 0 WHEN 'pilot' THEN 1 ELSE 2 END, wave DESC NULLS LAST, position DESC
     LIMIT $2`,
    [patchId, limit],
  );
  return rows.map((r) => ({ ...toHostWork(patchId, r), connector: r.connector }));
}

/** Every host of the patch on one connector (verification of agent hosts). */
export async function hostsOnConnector(db: Db, patchId: string, connector: ConnectorName): Promise<HostWork[]> {
  const { rows } = await db.query(
    `SELECT asset_id, attempts, packages, previous_versions FROM deployment_hosts WHERE patch_id = $1 AND connector = $2 ORDER BY position`,
    [patchId, connector],
  );
  return rows.map((r) => toHostWork(patchId, r));
}

/** The work order of a `deployment_hosts` row (asset_id, attempts, packages, previous_versions). */
function toHostWork(patchId: string, r: QueryResultRow): HostWork {
  return {
    patchId,
    assetId: r.asset_id,
    attempt: r.attempts,
    packages: packageTargets(r.packages),
    ...(r.previous_versions ? { previousVersions: r.previous_versions } : {}),
  };
}

/**
 * Verification's outcome for the simulated hosts, set-based: hosts recorded compliant but still
 * affected become `failed`; hosts recorded otherwise but found at the fixed versions become
 * `skipped`. Each change is recorded as a `verify` step, at `at`. Returns how many hosts were
 * checked and the ones still affected, with their reasons.
 */
export async function applyVerification(
  client: PoolClient,
  patchId: string,
  affected: { assetId: string; detail: string }[],
  at: Date,
): Promise<{ checked: number; nonCompliant: { assetId: string; reason: string }[] }> {
  const ids = affected.map((a) => a.assetId);
  await client.query(
    `WITH failed AS (
       UPDATE deployment_hosts h SET status = 'failed', reason = 'verification: ' || x.detail, finished_at = $4::timestamptz, updated_at = $4::timestamptz
       FROM unnest($2::text[], $3::text[]) AS x(asset_id, detail)
       WHERE h.patch_id = $1 AND h.asset_id = x.asset_id AND h.connector = 'simulated' AND h.status IN ('installed', 'skipped')
       RETURNING h.asset_id, h.attempts, h.reason
     ), clean AS (
       UPDATE deployment_hosts h SET status = 'skipped', reason = 'verification: at the fixed versions', finished_at = $4::timestamptz, updated_at = $4::timestamptz
       WHERE h.patch_id = $1 AND h.connector = 'simulated' AND NOT (h.asset_id = ANY($2))
         AND h.status IN ('pending', 'failed', 'rolled-back', 'unreachable', 'excepted', 'deferred')
       RETURNING h.asset_id, h.attempts, h.reason
     )
     INSERT INTO deployment_records (patch_id, asset_id, attempt, step, ok, detail, at)
     SELECT $1, asset_id, attempts, 'verify', false, reason, $4::timestamptz FROM failed
     UNION ALL
     SELECT $1, asset_id, attempts, 'verify', true, reason, $4::timestamptz FROM clean`,
    [patchId, ids, affected.map((a) => a.detail), at],
  );
  const checked = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM deployment_hosts WHERE patch_id = $1 AND connector = 'simulated'`,
    [patchId],
  );
  const { rows } = await client.query(
    `SELECT h.asset_id, coalesce(h.reason, 'verification: ' || x.detail) AS reason
     FROM deployment_hosts h JOIN unnest($2::text[], $3::text[]) AS x(asset_id, detail) ON x.asset_id = h.asset_id
     WHERE h.patch_id = $1 AND h.connector = 'simulated'
     ORDER BY h.position`,
    [patchId, ids, affected.map((a) => a.detail)],
  );
  return { checked: checked.rows[0]!.n, nonCompliant: rows.map((r) => ({ assetId: r.asset_id, reason: r.reason })) };
}

const HOST_STATE_COLUMNS = 'status, stage, reason, attempts, changed, previous_versions, back_at';

function toHostState(r: QueryResultRow): HostState {
  return {
    status: r.status,
    stage: r.stage,
    reason: r.reason,
    attempts: r.attempts,
    changed: r.changed,
    previousVersions: r.previous_versions,
    backAt: r.back_at,
  };
}

export async function hostState(db: Db, patchId: string, assetId: string): Promise<HostState | undefined> {
  const { rows } = await db.query(`SELECT ${HOST_STATE_COLUMNS} FROM deployment_hosts WHERE patch_id = $1 AND asset_id = $2`, [
    patchId,
    assetId,
  ]);
  return rows[0] ? toHostState(rows[0]) : undefined;
}

/** Parameters: $1 patch, $2 asset, $3 attempt, $4 the time it begins. */
const BEGIN_ATTEMPT = `UPDATE deployment_hosts SET attempts = $3, status = 'in-progress', reason = NULL, finished_at = NULL,
    stage = CASE WHEN stage IN ('changed', 'rebooted') AND changed THEN stage ELSE 'new' END,
    started_at = coalesce(started_at, $4::timestamptz), updated_at = $4::timestamptz
  WHERE patch_id = $1 AND asset_id = $2 AND attempts < $3`;

/**
 * Starts the workflow's attempt `attempt` at a host, once, at `at`: `in-progress`, reason cleared.
 * A host left changed by an unfinished earlier attempt resumes at its stage; any other starts anew.
 * Returns the row when it started the attempt, undefined when the attempt had already begun.
 */
async function beginAttempt(db: Db, patchId: string, assetId: string, attempt: number, at: Date): Promise<HostState | undefined> {
  const { rows } = await db.query(`${BEGIN_ATTEMPT} RETURNING ${HOST_STATE_COLUMNS}`, [patchId, assetId, attempt, at]);
  return rows[0] ? toHostState(rows[0]) : undefined;
}

export interface HostUpdate {
  stage?: Stage;
  status?: HostStatus;
  reason?: string | null;
  changed?: boolean;
  /** Merged under the recorded ones: the first version recorded for a package stays. */
  previousVersions?: Record<string, string>;
  backAt?: Date | null;
  /** Sets `finished_at`: the attempt reached an outcome. */
  finished?: boolean;
}

/**
 * Moves a host on at `at`, only from the stage (and status) the caller saw and in its attempt:
 * false when another call got there first, so a duplicate call never does a step twice.
 */
export async function moveHost(
  db: Db,
  key: { patchId: string; assetId: string; attempt: number },
  from: Stage | { stage: Stage; status: HostStatus },
  update: HostUpdate,
  at: Date,
): Promise<boolean> {
  const { sql, params } = moveStatement(key, from, update, at);
  const { rowCount } = await db.query(sql, params);
  return rowCount === 1;
}

/**
 * `moveHost` and `appendSteps` in one statement (atomic without a transaction): the records are
 * written only when the host moved on.
 */
export async function moveHostWithSteps(
  db: Db,
  key: { patchId: string; assetId: string; attempt: number },
  from: Stage | { stage: Stage; status: HostStatus },
  update: HostUpdate,
  steps: StepRecord[],
  at: Date,
): Promise<boolean> {
  const { sql, params } = moveStatement(key, from, update, at);
  const { rows } = await db.query<{ moved: number }>(
    prepared(`WITH moved AS (${sql} RETURNING 1), ${recordsOfMove(params, steps)} SELECT count(*)::int AS moved FROM moved`, params),
  );
  return rows[0]!.moved === 1;
}

/**
 * An install in one statement (one round trip, atomic without a transaction): the host moves on
 * from `from` with its records, and the asset's packages change as `change` says, or nothing
 * happens. `lost`: the host is no longer at `from`, or the asset's packages are no longer the ones
 * `change` was worked out from. `retry`: a package or set another host stored at the same moment
 * is not visible to this statement yet; the next one sees it.
 */
export async function installAndMoveHost(
  db: Db,
  key: { patchId: string; assetId: string; attempt: number },
  from: Stage,
  update: HostUpdate,
  steps: StepRecord[],
  change: PackageSetChange,
  at: Date,
): Promise<'moved' | 'lost' | 'retry'> {
  const { sql, params } = moveStatement(key, from, update, at);
  const bind = (value: unknown) => `$${params.push(value)}`;
  const fromSet = bind(change.fromSetId);
  const digest = bind(change.digest);
  const ids = bind(change.ids);
  const column = (pick: (p: PackageSetChange['fresh'][number]['package']) => string | undefined) =>
    bind(change.fresh.map((f) => pick(f.package) ?? ''));
  const fresh = `unnest(${bind(change.fresh.map((f) => f.position))}::int[], ${column((p) => p.name)}::text[], ${column((p) => p.version)}::text[],
                        ${column((p) => p.source)}::text[], ${column((p) => p.arch)}::text[], ${column((p) => p.ecosystem)}::text[])`;
  // the host and the asset are locked first (and seen as they are now), then everything else depends on both
  const statement = prepared(
    `WITH host AS (
       SELECT 1 FROM deployment_hosts
       WHERE patch_id = $1 AND asset_id = $2 AND attempts = $3 AND stage = $4 AND ($5::text IS NULL OR status = $5::text) FOR UPDATE
     ), asset AS (
       SELECT 1 FROM assets WHERE id = $2 AND package_set_id = ${fromSet}::bigint AND EXISTS (SELECT 1 FROM host) FOR UPDATE
     ), k AS (
       SELECT * FROM ${fresh} AS k(position, name, version, source, arch, ecosystem)
     ), stored AS (
       INSERT INTO packages (name, version, source, arch, ecosystem)
       SELECT name, version, source, arch, ecosystem FROM k WHERE EXISTS (SELECT 1 FROM asset)
       ORDER BY name, version, source, arch, ecosystem
       ON CONFLICT DO NOTHING
       RETURNING id, name, version, source, arch, ecosystem
     ), resolved AS (
       SELECT k.position, coalesce(s.id, p.id) AS id
       FROM k LEFT JOIN stored s USING (name, version, source, arch, ecosystem) LEFT JOIN packages p USING (name, version, source, arch, ecosystem)
     ), list AS (
       SELECT array_agg(coalesce(x.id, r.id) ORDER BY x.i) AS ids, bool_and(coalesce(x.id, r.id) IS NOT NULL) AS complete
       FROM unnest(${ids}::bigint[]) WITH ORDINALITY AS x(id, i) LEFT JOIN resolved r ON r.position = x.i
     ), added AS (
       INSERT INTO package_sets (digest, package_ids)
       SELECT decode(${digest}, 'hex'), ids FROM list WHERE complete AND EXISTS (SELECT 1 FROM asset)
       ON CONFLICT (digest) DO NOTHING
       RETURNING id
     ), target AS (
       SELECT id FROM added UNION ALL SELECT id FROM package_sets WHERE digest = decode(${digest}, 'hex') LIMIT 1
     ), changed AS (
       UPDATE assets SET package_set_id = (SELECT id FROM target), updated_at = now()
       WHERE id = $2 AND EXISTS (SELECT 1 FROM asset) AND EXISTS (SELECT 1 FROM target)
       RETURNING 1
     ), moved AS (
       ${sql} AND EXISTS (SELECT 1 FROM changed) RETURNING 1
     ), ${recordsOfMove(params, steps)}
     SELECT (SELECT count(*) FROM asset)::int AS ready, (SELECT count(*) FROM moved)::int AS moved`,
    params,
  );
  const { rows } = await db.query<{ ready: number; moved: number }>(statement);
  const { ready, moved } = rows[0]!;
  return moved === 1 ? 'moved' : ready === 1 ? 'retry' : 'lost';
}

/** The CTE `recorded`: the step records of the host's move, written when CTE `moved` has a row. */
function recordsOfMove(params: unknown[], steps: StepRecord[]): string {
  const at = (value: unknown) => `$${params.push(value)}`;
  return `recorded AS (
       INSERT INTO deployment_records (patch_id, asset_id, attempt, step, ok, detail, changes, at)
       SELECT $1, $2, $3, x.step, x.ok, x.detail, x.changes, x.at
       FROM unnest(${at(steps.map((s) => s.step))}::text[], ${at(steps.map((s) => s.ok))}::boolean[], ${at(steps.map((s) => s.detail))}::text[],
                   ${at(steps.map((s) => (s.changes ? JSON.stringify(s.changes) : null)))}::jsonb[], ${at(steps.map((s) => s.at))}::timestamptz[])
            WITH ORDINALITY AS x(step, ok, detail, changes, at, i)
       WHERE EXISTS (SELECT 1 FROM moved)
       ORDER BY x.i
     )`;
}

function moveStatement(
  key: { patchId: string; assetId: string; attempt: number },
  from: Stage | { stage: Stage; status: HostStatus },
  update: HostUpdate,
  at: Date,
): { sql: string; params: unknown[] } {
  const expected = typeof from === 'string' ? { stage: from, status: null } : from;
  // $6: the time of the move
  const params: unknown[] = [key.patchId, key.assetId, key.attempt, expected.stage, expected.status, at];
  const set = ['updated_at = $6::timestamptz'];
  const add = (column: string, value: unknown, expression = (p: string) => p) => {
    params.push(value);
    set.push(`${column} = ${expression(`$${params.length}`)}`);
  };
  if (update.stage !== undefined) add('stage', update.stage);
  if (update.status !== undefined) add('status', update.status);
  if (update.reason !== undefined) add('reason', update.reason);
  if (update.changed !== undefined) add('changed', update.changed);
  if (update.previousVersions !== undefined)
    add('previous_versions', update.previousVersions, (p) => `${p}::jsonb || coalesce(previous_versions, '{}')`);
  if (update.backAt !== undefined) add('back_at', update.backAt);
  if (update.finished) set.push('finished_at = $6::timestamptz');
  return {
    sql: `UPDATE deployment_hosts SET ${set.join(', ')}
     WHERE patch_id = $1 AND asset_id = $2 AND attempts = $3 AND stage = $4 AND ($5::text IS NULL OR status = $5::text)`,
    params,
  };
}

/**
 * Claims a changed host for a rollback at `at`, whatever its stage: `rolled-back`, no longer
 * changed. Returns the attempt and the versions to restore, or undefined when nothing of the patch
 * is on it.
 */
export async function claimRollback(
  client: PoolClient,
  patchId: string,
  assetId: string,
  reason: string,
  at: Date,
): Promise<{ attempt: number; previousVersions: Record<string, string> | null } | undefined> {
  const { rows } = await client.query(
    `UPDATE deployment_hosts SET changed = false, stage = 'done', status = 'rolled-back', reason = $3, back_at = NULL,
       finished_at = $4::timestamptz, updated_at = $4::timestamptz
     WHERE patch_id = $1 AND asset_id = $2 AND changed
     RETURNING attempts, previous_versions`,
    [patchId, assetId, reason, at],
  );
  return rows[0] ? { attempt: rows[0].attempts, previousVersions: rows[0].previous_versions } : undefined;
}

/** Appends step records; a step already recorded for the attempt at the same time is not written again. */
export async function appendSteps(db: Db, key: { patchId: string; assetId: string; attempt: number }, steps: StepRecord[]): Promise<void> {
  if (steps.length === 0) return;
  await db.query(
    `INSERT INTO deployment_records (patch_id, asset_id, attempt, step, ok, detail, changes, at)
     SELECT $1, $2, $3, x.step, x.ok, x.detail, x.changes, x.at
     FROM unnest($4::text[], $5::boolean[], $6::text[], $7::jsonb[], $8::timestamptz[]) WITH ORDINALITY AS x(step, ok, detail, changes, at, n)
     WHERE NOT EXISTS (SELECT 1 FROM deployment_records r
                       WHERE r.patch_id = $1 AND r.asset_id = $2 AND r.attempt = $3 AND r.step = x.step AND r.at = x.at)
     ORDER BY x.n`,
    [
      key.patchId,
      key.assetId,
      key.attempt,
      steps.map((s) => s.step),
      steps.map((s) => s.ok),
      steps.map((s) => s.detail),
      steps.map((s) => (s.changes ? JSON.stringify(s.changes) : null)),
      steps.map((s) => s.at),
    ],
  );
}

/** Whether the attempt already recorded this step (steps that run once per attempt, such as the lab tests). */
export async function hasStep(
  db: Db,
  key: { patchId: string; assetId: string; attempt: number },
  step: StepRecord['step'],
): Promise<boolean> {
  const { rows } = await db.query(
    'SELECT 1 FROM deployment_records WHERE patch_id = $1 AND asset_id = $2 AND attempt = $3 AND step = $4 LIMIT 1',
    [key.patchId, key.assetId, key.attempt, step],
  );
  return rows.length > 0;
}

/**
 * Records an agent's report: its steps (at the times the agent reported), the host's status
 * (`rebooting` while a reboot is due), `changed` after an install or a rollback, and the versions
 * the install replaced. `at` is when patchflow records it: the host row's start, update and
 * finish times.
 */
export async function recordAgentResult(
  client: PoolClient,
  work: HostWork,
  result: { status: HostStatus; reason: string | null; steps: StepRecord[] },
  at: Date,
): Promise<void> {
  const key = { patchId: work.patchId, assetId: work.assetId, attempt: work.attempt };
  await beginAttempt(client, work.patchId, work.assetId, work.attempt, at);
  await appendSteps(client, key, result.steps);
  const install = result.steps.find((s) => s.step === 'install' && s.ok);
  const rolledBack = result.steps.some((s) => s.step === 'rollback' && s.ok);
  const previous = Object.fromEntries((install?.changes ?? []).filter((c) => c.from !== null).map((c) => [c.name, c.from!]));
  const finished = result.status !== 'rebooting' && result.status !== 'in-progress';
  await client.query(
    `UPDATE deployment_hosts SET status = $4, reason = $5, updated_at = $10::timestamptz,
       stage = CASE WHEN $6 THEN 'done' ELSE 'changed' END,
       finished_at = CASE WHEN $6 THEN $10::timestamptz ELSE finished_at END,
       changed = CASE WHEN $7 THEN false WHEN $8 THEN true ELSE changed END,
       previous_versions = CASE WHEN $8 THEN $9::jsonb || coalesce(previous_versions, '{}') ELSE previous_versions END
     WHERE patch_id = $1 AND asset_id = $2 AND attempts = $3`,
    [work.patchId, work.assetId, work.attempt, result.status, result.reason, finished, rolledBack, install !== undefined, previous, at],
  );
}

/** Sets a host's status at `at` without running anything; an outcome also closes the attempt. */
export async function markHost(
  db: Db,
  m: { patchId: string; assetId: string; status: HostStatus; reason: string | null },
  at: Date,
): Promise<void> {
  await db.query(
    `UPDATE deployment_hosts SET status = $3, reason = $4, updated_at = $5::timestamptz,
       finished_at = CASE WHEN $3 IN ('pending', 'in-progress', 'rebooting') THEN finished_at ELSE $5::timestamptz END
     WHERE patch_id = $1 AND asset_id = $2`,
    [m.patchId, m.assetId, m.status, m.reason, at],
  );
}

interface WaiverKey {
  id: string;
  patchId: string;
  assetId: string;
}

/** An approver's exception, recorded at `at`; the host shows `excepted` unless it is compliant or being changed. */
export const recordException = (
  client: PoolClient,
  e: WaiverKey & { compensatingControl: string; expiresAt: string; approvedBy: string },
  at: Date,
): Promise<void> =>
  recordWaiver(client, e, at, {
    table: 'host_exceptions',
    columns: { compensating_control: e.compensatingControl, expires_at: e.expiresAt, approved_by: e.approvedBy },
    status: 'excepted',
    reason: `excepted until ${new Date(e.expiresAt).toISOString()}: ${e.compensatingControl}`,
  });

/** An owner's deferral, recorded at `at`; the host shows `deferred` unless it is compliant or being changed. */
export const recordDeferral = (
  client: PoolClient,
  d: WaiverKey & { until: string; reason: string; requestedBy: string },
  at: Date,
): Promise<void> =>
  recordWaiver(client, d, at, {
    table: 'host_deferrals',
    columns: { until: d.until, reason: d.reason, requested_by: d.requestedBy },
    status: 'deferred',
    reason: `deferred until ${new Date(d.until).toISOString()}: ${d.reason}`,
  });

/**
 * Records an exception or a deferral once (its id is the idempotency key: a retried activity
 * inserts nothing) and labels the host, unless it is compliant or being changed.
 */
async function recordWaiver(
  client: PoolClient,
  key: WaiverKey,
  at: Date,
  waiver: {
    table: 'host_exceptions' | 'host_deferrals';
    columns: Record<string, string>;
    status: 'excepted' | 'deferred';
    reason: string;
  },
): Promise<void> {
  const names = Object.keys(waiver.columns);
  const { rowCount } = await client.query(
    `INSERT INTO ${waiver.table} (id, patch_id, asset_id, at, ${names.join(', ')})
     VALUES ($1, $2, $3, $4::timestamptz, ${names.map((_, i) => `$${i + 5}`).join(', ')}) ON CONFLICT (id) DO NOTHING`,
    [key.id, key.patchId, key.assetId, at, ...Object.values(waiver.columns)],
  );
  if (rowCount !== 1) return;
  await client.query(
    `UPDATE deployment_hosts SET status = $3, reason = $4, updated_at = $5::timestamptz
     WHERE patch_id = $1 AND asset_id = $2 AND status IN ('pending', 'failed', 'rolled-back', 'unreachable', 'excepted', 'deferred')`,
    [key.patchId, key.assetId, waiver.status, waiver.reason, at],
  );
}

/** Records SLA breaches at `at`; a host already recorded keeps its first record. */
export async function recordBreaches(db: Db, patchId: string, hosts: { assetId: string; reason: string }[], at: Date): Promise<void> {
  if (hosts.length === 0) return;
  await db.query(
    `INSERT INTO sla_breaches (patch_id, asset_id, reason, at)
     SELECT $1, x.asset_id, x.reason, $4::timestamptz FROM unnest($2::text[], $3::text[]) AS x(asset_id, reason)
     ON CONFLICT (patch_id, asset_id) DO NOTHING`,
    [patchId, hosts.map((h) => h.assetId), hosts.map((h) => h.reason), at],
  );
}

/** Closes the deployment at `at`; a retry keeps the first finish time. */
export async function finishDeployment(db: Db, patchId: string, outcome: Outcome, at: Date): Promise<void> {
  await db.query(`UPDATE patch_deployments SET finished_at = coalesce(finished_at, $3::timestamptz), outcome = $2 WHERE patch_id = $1`, [
    patchId,
    outcome,
    at,
  ]);
}

/** An asset's simulation flags, OS and the installed versions of the named packages. */
export interface HostInventory {
  simulation: unknown;
  os: { name: string; version: string };
  /** Every installed package, in the asset's order, with the set it is stored as. */
  stored: StoredPackages;
}

/** The asset's columns `toHostInventory` reads (an asset `a`); null columns when there is no asset. */
const INVENTORY_COLUMNS = `a.id AS inventory_asset, a.simulation, a.os_name, a.os_version, a.package_set_id,
  coalesce((SELECT json_agg(json_build_object('id', p.id::text, 'name', p.name, 'version', p.version, 'source', p.source,
                                              'arch', p.arch, 'ecosystem', p.ecosystem) ORDER BY u.n)
            FROM package_sets s, unnest(s.package_ids) WITH ORDINALITY AS u(pid, n) JOIN packages p ON p.id = u.pid
            WHERE s.id = a.package_set_id), '[]') AS packages`;

function toHostInventory(r: QueryResultRow): HostInventory | undefined {
  if (r.inventory_asset === null) return undefined;
  return {
    simulation: r.simulation,
    os: { name: r.os_name, version: r.os_version },
    stored: { setId: String(r.package_set_id), packages: r.packages },
  };
}

export async function hostInventory(db: Db, assetId: string): Promise<HostInventory | undefined> {
  const { rows } = await db.query(`SELECT ${INVENTORY_COLUMNS} FROM assets a WHERE a.id = $1`, [assetId]);
  return rows[0] ? toHostInventory(rows[0]) : undefined;
}

/**
 * `beginAttempt` at `at` (or the row as it is, when the attempt had begun) and the asset's
 * inventory, in one statement. undefined when the host is not in the patch.
 */
export async function beginAttemptWithInventory(
  db: Db,
  patchId: string,
  assetId: string,
  attempt: number,
  at: Date,
): Promise<{ state: HostState; inventory: HostInventory | undefined } | undefined> {
  const statement = prepared(
    `WITH begun AS (${BEGIN_ATTEMPT} RETURNING ${HOST_STATE_COLUMNS}),
     host AS (
       SELECT * FROM begun
       UNION ALL
       SELECT ${HOST_STATE_COLUMNS} FROM deployment_hosts WHERE patch_id = $1 AND asset_id = $2 AND NOT EXISTS (SELECT 1 FROM begun)
     )
     SELECT host.*, ${INVENTORY_COLUMNS} FROM host LEFT JOIN assets a ON a.id = $2`,
    [patchId, assetId, attempt, at],
  );
  const { rows } = await db.query(statement);
  return rows[0] ? { state: toHostState(rows[0]), inventory: toHostInventory(rows[0]) } : undefined;
}
