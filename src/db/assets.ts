/**
 * The asset inventory in PostgreSQL. Installed packages are stored once per distinct
 * (name, version, source, arch, ecosystem) in `packages`; an asset points at a content-addressed
 * `package_sets` row (the sorted package ids), so hosts built from the same image share one set
 * and the applicability prefilter (a GIN index on the set's names) looks at sets, not hosts.
 */
import crypto from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from './transaction';
import type { CandidateGroup } from '../domain/applicability';
import type { Asset, InstalledPackage } from '../domain/asset';

const BATCH = 5000;

/** One string per distinct installed package: name, version, source, arch, ecosystem. */
function packageKey(p: InstalledPackage): string {
  return `${p.name}\u0000${p.version}\u0000${p.source ?? ''}\u0000${p.arch ?? ''}\u0000${p.ecosystem ?? ''}`;
}

/** A PostgreSQL text[] literal, every element quoted. */
function arrayLiteral(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

/** Inserts or replaces assets (all or nothing); returns how many were written. */
export async function upsertAssets(pool: Pool, assets: Asset[]): Promise<number> {
  return inTransaction(pool, async (client) => {
    const ids = new Map<string, number>();
    for (let start = 0; start < assets.length; start += BATCH) {
      await upsertBatch(client, assets.slice(start, start + BATCH), ids);
    }
    return assets.length;
  });
}

async function upsertBatch(client: PoolClient, assets: Asset[], ids: Map<string, number>): Promise<void> {
  // 1. ids of every package in one pass; the ones never seen are inserted, then filled in
  const packageIds = assets.map((a) => new Float64Array(a.packages.length));
  const unknown = new Map<string, { package: InstalledPackage; slots: [number, number][] }>();
  assets.forEach((asset, i) => {
    const row = packageIds[i]!;
    asset.packages.forEach((p, j) => {
      const key = packageKey(p);
      const id = ids.get(key);
      if (id !== undefined) row[j] = id;
      else {
        const entry = unknown.get(key);
        if (entry) entry.slots.push([i, j]);
        else unknown.set(key, { package: p, slots: [[i, j]] });
      }
    });
  });
  if (unknown.size > 0) {
    const missing = [...unknown.values()].map((u) => u.package);
    const columns = [
      missing.map((p) => p.name),
      missing.map((p) => p.version),
      missing.map((p) => p.source ?? ''),
      missing.map((p) => p.arch ?? ''),
      missing.map((p) => p.ecosystem ?? ''),
    ];
    await client.query(
      `INSERT INTO packages (name, version, source, arch, ecosystem)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
       ON CONFLICT DO NOTHING`,
      columns,
    );
    const { rows } = await client.query<{ id: string; name: string; version: string; source: string; arch: string; ecosystem: string }>(
      `SELECT p.id, p.name, p.version, p.source, p.arch, p.ecosystem
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(name, version, source, arch, ecosystem)
       JOIN packages p USING (name, version, source, arch, ecosystem)`,
      columns,
    );
    for (const r of rows) {
      const key = packageKey(r);
      ids.set(key, Number(r.id));
      for (const [i, j] of unknown.get(key)!.slots) packageIds[i]![j] = Number(r.id);
    }
  }

  // 2. each asset's set: its sorted package ids, addressed by their digest
  const sets = new Map<string, { digest: Buffer; packageIds: number[]; names: string[] }>();
  const assetDigest: string[] = [];
  assets.forEach((asset, i) => {
    const sorted = packageIds[i]!.sort();
    const digest = crypto.createHash('sha256').update(new Uint8Array(sorted.buffer)).digest();
    const hex = digest.toString('hex');
    assetDigest.push(hex);
    if (!sets.has(hex)) {
      const names = new Set<string>();
      for (const p of asset.packages) {
        names.add(p.name);
        if (p.source) names.add(p.source);
      }
      sets.set(hex, { digest, packageIds: [...new Set(sorted)], names: [...names] });
    }
  });
  const setIds = new Map<string, string>();
  const digests = [...sets.values()].map((s) => s.digest);
  const known = await client.query<{ id: string; digest: Buffer }>('SELECT id, digest FROM package_sets WHERE digest = ANY($1)', [digests]);
  for (const row of known.rows) setIds.set(row.digest.toString('hex'), row.id);
  const newSets = [...sets.entries()].filter(([hex]) => !setIds.has(hex)).map(([, s]) => s);
  if (newSets.length > 0) {
    // arrays travel as PostgreSQL array literals: far cheaper to cast than JSON to take apart
    const { rows } = await client.query<{ id: string; digest: Buffer }>(
      `INSERT INTO package_sets (digest, package_ids, names)
       SELECT digest, ids::bigint[], names::text[] FROM unnest($1::bytea[], $2::text[], $3::text[]) AS x(digest, ids, names)
       ON CONFLICT (digest) DO UPDATE SET digest = EXCLUDED.digest
       RETURNING id, digest`,
      [newSets.map((s) => s.digest), newSets.map((s) => `{${s.packageIds.join(',')}}`), newSets.map((s) => arrayLiteral(s.names))],
    );
    for (const row of rows) setIds.set(row.digest.toString('hex'), row.id);
  }

  // 3. the assets themselves
  const rows = assets.map((a, i) => ({
    id: a.id,
    hostname: a.hostname,
    environment: a.environment,
    os_name: a.os.name,
    os_version: a.os.version,
    criticality: a.criticality,
    exposure: a.exposure,
    role: a.role ?? null,
    redundancy_group: a.redundancyGroup ?? null,
    owner: a.owner ?? null,
    timezone: a.timezone,
    maintenance_windows: a.maintenanceWindows,
    compensating_controls: a.compensatingControls,
    connector: a.connector,
    simulation: a.simulation ?? null,
    package_set_id: setIds.get(assetDigest[i]!),
    package_count: a.packages.length,
  }));
  await client.query(
    `INSERT INTO assets (id, hostname, environment, os_name, os_version, criticality, exposure, role,
                         redundancy_group, owner, timezone, maintenance_windows, compensating_controls,
                         connector, simulation, package_set_id, package_count)
     SELECT id, hostname, environment, os_name, os_version, criticality, exposure, role, redundancy_group,
            owner, timezone, maintenance_windows, ARRAY(SELECT jsonb_array_elements_text(compensating_controls)),
            connector, simulation, package_set_id, package_count
     FROM jsonb_to_recordset($1::jsonb) AS x(id text, hostname text, environment text, os_name text,
          os_version text, criticality text, exposure text, role text, redundancy_group text, owner text,
          timezone text, maintenance_windows jsonb, compensating_controls jsonb, connector text,
          simulation jsonb, package_set_id bigint, package_count integer)
     ON CONFLICT (id) DO UPDATE SET
       hostname = EXCLUDED.hostname, environment = EXCLUDED.environment, os_name = EXCLUDED.os_name,
       os_version = EXCLUDED.os_version, criticality = EXCLUDED.criticality, exposure = EXCLUDED.exposure,
       role = EXCLUDED.role, redundancy_group = EXCLUDED.redundancy_group, owner = EXCLUDED.owner,
       timezone = EXCLUDED.timezone, maintenance_windows = EXCLUDED.maintenance_windows,
       compensating_controls = EXCLUDED.compensating_controls, connector = EXCLUDED.connector,
       simulation = EXCLUDED.simulation, package_set_id = EXCLUDED.package_set_id,
       package_count = EXCLUDED.package_count, updated_at = now()`,
    [JSON.stringify(rows)],
  );
}

export interface AssetFilters {
  environment?: string;
  role?: string;
  redundancyGroup?: string;
  criticality?: string;
  exposure?: string;
  os?: string;
  hasPackage?: string;
  limit: number;
  offset: number;
}

const ASSET_COLUMNS = `a.id, a.hostname, a.environment, a.os_name, a.os_version, a.criticality, a.exposure,
  a.role, a.redundancy_group, a.owner, a.timezone, a.maintenance_windows, a.compensating_controls,
  a.connector, a.simulation, a.package_count, a.updated_at`;

export async function listAssets(pool: Pool, filters: AssetFilters): Promise<{ total: number; assets: AssetSummary[] }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filters.environment) add('a.environment = ?', filters.environment);
  if (filters.role) add('a.role = ?', filters.role);
  if (filters.redundancyGroup) add('a.redundancy_group = ?', filters.redundancyGroup);
  if (filters.criticality) add('a.criticality = ?', filters.criticality);
  if (filters.exposure) add('a.exposure = ?', filters.exposure);
  if (filters.os) {
    const [name, version] = filters.os.split(':');
    add('a.os_name = ?', name!.toLowerCase());
    if (version) add('a.os_version = ?', version);
  }
  if (filters.hasPackage) {
    add('a.package_set_id IN (SELECT id FROM package_sets WHERE names @> ARRAY[?::text])', filters.hasPackage);
  }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const count = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM assets a ${clause}`, params);
  const { rows } = await pool.query(
    `SELECT ${ASSET_COLUMNS} FROM assets a ${clause} ORDER BY a.id LIMIT ${filters.limit} OFFSET ${filters.offset}`,
    params,
  );
  return { total: Number(count.rows[0]!.n), assets: rows.map(toSummary) };
}

export interface AssetSummary {
  id: string;
  hostname: string;
  environment: string;
  os: { name: string; version: string };
  criticality: string;
  exposure: string;
  role: string | null;
  redundancyGroup: string | null;
  owner: string | null;
  timezone: string;
  maintenanceWindows: unknown[];
  compensatingControls: string[];
  connector: string;
  simulation: unknown;
  packageCount: number;
  updatedAt: string;
}

function toSummary(row: Record<string, any>): AssetSummary {
  return {
    id: row.id,
    hostname: row.hostname,
    environment: row.environment,
    os: { name: row.os_name, version: row.os_version },
    criticality: row.criticality,
    exposure: row.exposure,
    role: row.role,
    redundancyGroup: row.redundancy_group,
    owner: row.owner,
    timezone: row.timezone,
    maintenanceWindows: row.maintenance_windows,
    compensatingControls: row.compensating_controls,
    connector: row.connector,
    simulation: row.simulation,
    packageCount: row.package_count,
    updatedAt: row.updated_at.toISOString(),
  };
}

export async function getAsset(pool: Pool, id: string): Promise<(AssetSummary & { packages: InstalledPackage[] }) | undefined> {
  const { rows } = await pool.query(`SELECT ${ASSET_COLUMNS}, a.package_set_id FROM assets a WHERE a.id = $1`, [id]);
  if (!rows[0]) return undefined;
  const packages = await pool.query(
    `SELECT p.name, p.version, p.source, p.arch, p.ecosystem
     FROM package_sets s, unnest(s.package_ids) AS pid JOIN packages p ON p.id = pid
     WHERE s.id = $1 ORDER BY p.name, p.arch`,
    [rows[0].package_set_id],
  );
  return {
    ...toSummary(rows[0]),
    packages: packages.rows.map((p) => ({
      name: p.name,
      version: p.version,
      ...(p.source ? { source: p.source } : {}),
      ...(p.arch ? { arch: p.arch } : {}),
      ...(p.ecosystem ? { ecosystem: p.ecosystem } : {}),
    })),
  };
}

/**
 * The index-backed prefilter of applicability: hosts whose package set contains one of `names`
 * (binary or source names), grouped by package set and OS release, with only those packages.
 * Exact version comparison happens afterwards, in TypeScript.
 */
export async function candidateGroups(pool: Pool, names: string[]): Promise<CandidateGroup[]> {
  if (names.length === 0) return [];
  // The few package rows with those names, then the sets holding any of them (GIN on names):
  // each set keeps only its hits, computed once per set (MATERIALIZED), not once per host.
  const wanted = await pool.query<{ id: string; name: string; version: string; source: string; ecosystem: string }>(
    'SELECT id, name, version, source, ecosystem FROM packages WHERE name = ANY($1) OR source = ANY($1)',
    [names],
  );
  if (wanted.rows.length === 0) return [];
  const byId = new Map(wanted.rows.map((p) => [p.id, { name: p.name, version: p.version, source: p.source, ecosystem: p.ecosystem }]));
  const { rows } = await pool.query<{ hits: string[]; os_name: string; os_version: string; assets: CandidateGroup['assets'] }>(
    `WITH sets AS MATERIALIZED (
       SELECT s.id, ARRAY(SELECT pid FROM unnest(s.package_ids) AS pid WHERE pid = ANY($2::bigint[])) AS hits
       FROM package_sets s
       WHERE s.names && $1::text[]
     )
     SELECT sets.hits::text[] AS hits, a.os_name, a.os_version,
            json_agg(json_build_object('id', a.id, 'environment', a.environment, 'criticality', a.criticality,
                                       'exposure', a.exposure, 'compensatingControls', a.compensating_controls)) AS assets
     FROM sets JOIN assets a ON a.package_set_id = sets.id
     WHERE cardinality(sets.hits) > 0
     GROUP BY sets.id, sets.hits, a.os_name, a.os_version`,
    [names, [...byId.keys()]],
  );
  return rows.map((r) => ({ osName: r.os_name, osVersion: r.os_version, assets: r.assets, packages: r.hits.map((id) => byId.get(id)!) }));
}
