/**
 * The asset inventory in PostgreSQL. Installed packages are stored once per distinct
 * (name, version, source, arch, ecosystem) in `packages`; an asset points at a content-addressed
 * `package_sets` row (the sorted package ids), so hosts built from the same image share one set
 * and the applicability prefilter looks at sets, not hosts.
 */
import crypto from 'node:crypto';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { inTransaction } from './transaction';
import type { CandidateGroup } from '../domain/applicability';
import { assetFieldsFromColumns, type Asset, type InstalledPackage } from '../domain/asset';

const BATCH = 1000;

/** One string per distinct installed package: name, version, source, arch, ecosystem. */
function packageKey(p: InstalledPackage): string {
  return `${p.name}\u0000${p.version}\u0000${p.source ?? ''}\u0000${p.arch ?? ''}\u0000${p.ecosystem ?? ''}`;
}

/**
 * The address of an asset's package set: a digest of its package list as given. Hosts built
 * from one image send the same list, so they share a set without any per-package lookup; the
 * same packages in another order only cost a second, equally correct set.
 */
function contentDigest(packages: InstalledPackage[]): Buffer {
  let text = '';
  for (const p of packages) text += `${packageKey(p)}\n`;
  return crypto.createHash('sha256').update(text).digest();
}

/** What one import has learned so far: package ids by key, and the set digests (hex) it has stored. */
interface ImportState {
  packageIds: Map<string, string>;
  storedSets: Set<string>;
}

/**
 * Inserts or replaces assets (all or nothing); returns how many were written.
 *
 * The work is pipelined so Node and PostgreSQL run side by side: the set and asset rows of one
 * batch are written on the transaction's connection while the next batch is digested. Lookups
 * that must not wait behind those writes (which sets exist, the ids of packages) go through a
 * second connection. Packages are a shared dictionary, so they are inserted there outside the
 * transaction: a rolled-back import can leave unused dictionary rows, never a half-written asset.
 */
export async function upsertAssets(pool: Pool, assets: Asset[]): Promise<number> {
  const lookup = await pool.connect();
  try {
    return await inTransaction(pool, async (client) => {
      const state: ImportState = { packageIds: new Map(), storedSets: new Set() };
      const writes: Promise<unknown>[] = [];
      let failure: { error: unknown } | undefined;
      for (let start = 0; start < assets.length && failure === undefined; start += BATCH) {
        const batch = assets.slice(start, start + BATCH);
        const digests = batch.map((a) => contentDigest(a.packages).toString('hex'));
        const newSets = await setsToStore(lookup, batch, digests, state);
        // at most two batches in flight: memory stays bounded when PostgreSQL is the slower side
        if (writes.length >= 2) await writes[writes.length - 2];
        const write = insertSets(client, newSets).then(() => insertAssets(client, batch, digests));
        writes.push(write.catch((error: unknown) => (failure ??= { error })));
      }
      await Promise.all(writes);
      if (failure !== undefined) throw failure.error;
      return assets.length;
    });
  } finally {
    lookup.release();
  }
}

/** The sets of this batch that neither PostgreSQL nor this import has stored yet, with their package ids. */
async function setsToStore(lookup: PoolClient, assets: Asset[], digests: string[], state: ImportState) {
  const firstWith = new Map<string, number>();
  digests.forEach((hex, i) => {
    if (!state.storedSets.has(hex) && !firstWith.has(hex)) firstWith.set(hex, i);
  });
  for (const hex of digests) state.storedSets.add(hex);
  if (firstWith.size === 0) return [];
  const known = await lookup.query<{ digest: Buffer }>('SELECT digest FROM package_sets WHERE digest = ANY($1)', [
    [...firstWith.keys()].map((hex) => Buffer.from(hex, 'hex')),
  ]);
  for (const row of known.rows) firstWith.delete(row.digest.toString('hex'));

  // each new set's package ids; the packages never seen are looked up (or inserted) together
  const missing = new Map<string, { package: InstalledPackage; slots: [string[], number][] }>();
  const sets = [...firstWith.entries()].map(([hex, i]) => {
    const packages = assets[i]!.packages;
    const ids = new Array<string>(packages.length);
    packages.forEach((p, j) => {
      const key = packageKey(p);
      const id = state.packageIds.get(key);
      if (id !== undefined) ids[j] = id;
      else {
        const entry = missing.get(key);
        if (entry) entry.slots.push([ids, j]);
        else missing.set(key, { package: p, slots: [[ids, j]] });
      }
    });
    return { hex, packageIds: ids };
  });
  if (missing.size > 0) {
    for (const [key, id] of await packageIds(
      lookup,
      [...missing.values()].map((m) => m.package),
    )) {
      state.packageIds.set(key, id);
      for (const [ids, j] of missing.get(key)!.slots) ids[j] = id;
    }
  }
  return sets;
}

/**
 * The ids of these packages by key, inserting the ones PostgreSQL does not have yet.
 * `probablyKnown`: look them up before inserting (one statement when all are there).
 */
async function packageIds(lookup: PoolClient, packages: InstalledPackage[], probablyKnown = false): Promise<[string, string][]> {
  const columns = [
    packages.map((p) => p.name),
    packages.map((p) => p.version),
    packages.map((p) => p.source ?? ''),
    packages.map((p) => p.arch ?? ''),
    packages.map((p) => p.ecosystem ?? ''),
  ];
  const lookUp = async () => {
    const { rows } = await lookup.query<{ id: string; name: string; version: string; source: string; arch: string; ecosystem: string }>(
      `SELECT p.id, p.name, p.version, p.source, p.arch, p.ecosystem
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(name, version, source, arch, ecosystem)
       JOIN packages p USING (name, version, source, arch, ecosystem)`,
      columns,
    );
    return rows.map((r): [string, string] => [packageKey(r), r.id]);
  };
  if (probablyKnown) {
    const known = await lookUp();
    if (known.length === new Set(packages.map(packageKey)).size) return known;
  }
  await lookup.query(
    `INSERT INTO packages (name, version, source, arch, ecosystem)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
     ON CONFLICT DO NOTHING`,
    columns,
  );
  return lookUp();
}

async function insertSets(client: PoolClient, sets: { hex: string; packageIds: string[] }[]): Promise<void> {
  if (sets.length === 0) return;
  // arrays travel as PostgreSQL array literals: far cheaper to cast than JSON to take apart
  await client.query(
    `INSERT INTO package_sets (digest, package_ids)
     SELECT decode(digest, 'hex'), ids::bigint[] FROM unnest($1::text[], $2::text[]) AS x(digest, ids)
     ON CONFLICT (digest) DO NOTHING`,
    [sets.map((s) => s.hex), sets.map((s) => `{${s.packageIds.join(',')}}`)],
  );
}

/** A PostgreSQL text[] literal, every element quoted. */
function arrayLiteral(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

async function insertAssets(client: PoolClient, assets: Asset[], digests: string[]): Promise<void> {
  const column = <T>(pick: (a: Asset) => T) => assets.map(pick);
  await client.query(
    `INSERT INTO assets (id, hostname, environment, os_name, os_version, criticality, exposure, role,
                         redundancy_group, owner, timezone, maintenance_windows, compensating_controls,
                         connector, simulation, package_set_id, package_count)
     SELECT x.id, hostname, environment, os_name, os_version, criticality, exposure, role, redundancy_group,
            owner, timezone, maintenance_windows, compensating_controls::text[], connector, simulation, s.id, package_count
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                 $9::text[], $10::text[], $11::text[], $12::jsonb[], $13::text[], $14::text[], $15::jsonb[],
                 $16::text[], $17::int[])
          AS x(id, hostname, environment, os_name, os_version, criticality, exposure, role, redundancy_group, owner,
               timezone, maintenance_windows, compensating_controls, connector, simulation, digest, package_count)
     JOIN package_sets s ON s.digest = decode(x.digest, 'hex')
     ON CONFLICT (id) DO UPDATE SET
       hostname = EXCLUDED.hostname, environment = EXCLUDED.environment, os_name = EXCLUDED.os_name,
       os_version = EXCLUDED.os_version, criticality = EXCLUDED.criticality, exposure = EXCLUDED.exposure,
       role = EXCLUDED.role, redundancy_group = EXCLUDED.redundancy_group, owner = EXCLUDED.owner,
       timezone = EXCLUDED.timezone, maintenance_windows = EXCLUDED.maintenance_windows,
       compensating_controls = EXCLUDED.compensating_controls, connector = EXCLUDED.connector,
       simulation = EXCLUDED.simulation, package_set_id = EXCLUDED.package_set_id,
       package_count = EXCLUDED.package_count, updated_at = now()`,
    [
      column((a) => a.id),
      column((a) => a.hostname),
      column((a) => a.environment),
      column((a) => a.os.name),
      column((a) => a.os.version),
      column((a) => a.criticality),
      column((a) => a.exposure),
      column((a) => a.role ?? null),
      column((a) => a.redundancyGroup ?? null),
      column((a) => a.owner ?? null),
      column((a) => a.timezone),
      column((a) => JSON.stringify(a.maintenanceWindows)),
      column((a) => arrayLiteral(a.compensatingControls)),
      column((a) => a.connector),
      column((a) => (a.simulation ? JSON.stringify(a.simulation) : null)),
      digests,
      column((a) => a.packages.length),
    ],
  );
}

/** An asset's packages as stored: its package set, and each package with its dictionary id. */
export interface StoredPackages {
  setId: string;
  packages: { id: string; name: string; version: string; source: string; arch: string; ecosystem: string }[];
}

/** A change of an asset's package set (a new list, a new set), worked out from the packages as stored. */
export interface PackageSetChange {
  /** The set the asset has now. */
  fromSetId: string;
  /** The new list's content digest (hex), the address of its set. */
  digest: string;
  /** The new list: dictionary ids, null where a package gets a new version. */
  ids: (string | null)[];
  /** The packages with a new version: their place in the list (from 1), and what they are. */
  fresh: { position: number; package: InstalledPackage }[];
  applied: { name: string; from: string; to: string }[];
}

/** What `changes` (new versions by name, every architecture) make of the stored list; undefined when nothing changes. */
export function planPackageSetChange(stored: StoredPackages, changes: { name: string; version: string }[]): PackageSetChange | undefined {
  const wanted = new Map(changes.map((c) => [c.name, c.version]));
  const applied = new Map<string, { name: string; from: string; to: string }>();
  const fresh: PackageSetChange['fresh'] = [];
  const ids: (string | null)[] = [];
  const list = stored.packages.map((p, i) => {
    const version = wanted.get(p.name) ?? p.version;
    const installed: InstalledPackage = {
      name: p.name,
      version,
      ...(p.source ? { source: p.source } : {}),
      ...(p.arch ? { arch: p.arch } : {}),
      ...(p.ecosystem ? { ecosystem: p.ecosystem } : {}),
    };
    if (version === p.version) ids.push(String(p.id));
    else {
      if (!applied.has(p.name)) applied.set(p.name, { name: p.name, from: p.version, to: version });
      ids.push(null);
      fresh.push({ position: i + 1, package: installed });
    }
    return installed;
  });
  if (applied.size === 0) return undefined;
  return { fromSetId: stored.setId, digest: contentDigest(list).toString('hex'), ids, fresh, applied: [...applied.values()] };
}

/**
 * Sets new versions of packages an asset has installed (every architecture of each name), inside
 * the caller's transaction: the changed list gets its own content-addressed set, as an import
 * would give it. Names the asset does not have are left out. Returns what changed.
 */
export async function setAssetPackages(
  client: PoolClient,
  assetId: string,
  changes: { name: string; version: string }[],
): Promise<{ name: string; from: string; to: string }[]> {
  // the asset row is locked first: two patches changing one host take turns
  const { rows } = await client.query<StoredPackages['packages'][number] & { set_id: string }>(
    `WITH asset AS (SELECT package_set_id FROM assets WHERE id = $1 FOR UPDATE)
     SELECT p.id, p.name, p.version, p.source, p.arch, p.ecosystem, s.id AS set_id
     FROM asset JOIN package_sets s ON s.id = asset.package_set_id,
          unnest(s.package_ids) WITH ORDINALITY AS u(pid, n) JOIN packages p ON p.id = u.pid
     ORDER BY u.n`,
    [assetId],
  );
  const change = rows.length > 0 ? planPackageSetChange({ setId: rows[0]!.set_id, packages: rows }, changes) : undefined;
  if (!change) return [];
  // only the new versions need dictionary ids; in key order, so concurrent transactions insert them in the same order
  const fresh = change.fresh.map((f) => f.package).sort((a, b) => (packageKey(a) < packageKey(b) ? -1 : 1));
  const freshIds = new Map(await packageIds(client, fresh, true));
  const byPosition = new Map(change.fresh.map((f) => [f.position, freshIds.get(packageKey(f.package))!]));
  await insertSets(client, [{ hex: change.digest, packageIds: change.ids.map((id, i) => id ?? byPosition.get(i + 1)!) }]);
  await client.query(
    `UPDATE assets SET package_set_id = (SELECT id FROM package_sets WHERE digest = decode($2, 'hex')), updated_at = now() WHERE id = $1`,
    [assetId, change.digest],
  );
  return change.applied;
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
    where.push(sql.replaceAll('?', `$${params.length}`));
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
    add(
      `a.package_set_id IN (SELECT id FROM package_sets
                            WHERE package_ids && ARRAY(SELECT id FROM packages WHERE name = ? OR source = ?))`,
      filters.hasPackage,
    );
  }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const count = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM assets a ${clause}`, params);
  const { rows } = await pool.query(
    `SELECT ${ASSET_COLUMNS} FROM assets a ${clause} ORDER BY a.id LIMIT ${filters.limit} OFFSET ${filters.offset}`,
    params,
  );
  return { total: Number(count.rows[0]!.n), assets: rows.map(toSummary) };
}

/** An asset as the inventory lists it: its package count instead of its packages; unset optional fields are null. */
export type AssetSummary = Omit<Asset, 'packages' | 'role' | 'redundancyGroup' | 'owner' | 'simulation'> & {
  role: string | null;
  redundancyGroup: string | null;
  owner: string | null;
  simulation: Asset['simulation'] | null;
  packageCount: number;
  updatedAt: string;
};

function toSummary(row: QueryResultRow): AssetSummary {
  return {
    ...assetFieldsFromColumns((column) => row[column]),
    maintenanceWindows: row.maintenance_windows,
    compensatingControls: row.compensating_controls,
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
  // The few package rows with those names, then the sets holding any of them (a scan of the
  // distinct sets): each set keeps only its hits, computed once per set (MATERIALIZED), not once per host.
  const wanted = await pool.query<{ id: string; name: string; version: string; source: string; ecosystem: string }>(
    'SELECT id, name, version, source, ecosystem FROM packages WHERE name = ANY($1) OR source = ANY($1)',
    [names],
  );
  if (wanted.rows.length === 0) return [];
  const byId = new Map(wanted.rows.map((p) => [p.id, { name: p.name, version: p.version, source: p.source, ecosystem: p.ecosystem }]));
  const { rows } = await pool.query<{ hits: string[]; os_name: string; os_version: string; assets: CandidateGroup['assets'] }>(
    `WITH sets AS MATERIALIZED (
       SELECT s.id, ARRAY(SELECT DISTINCT pid FROM unnest(s.package_ids) AS pid WHERE pid = ANY($1::bigint[])) AS hits
       FROM package_sets s
       WHERE s.package_ids && $1::bigint[]
     )
     SELECT sets.hits::text[] AS hits, a.os_name, a.os_version,
            json_agg(json_build_object('id', a.id, 'environment', a.environment, 'criticality', a.criticality,
                                       'exposure', a.exposure, 'compensatingControls', a.compensating_controls)) AS assets
     FROM sets JOIN assets a ON a.package_set_id = sets.id
     WHERE cardinality(sets.hits) > 0
     GROUP BY sets.id, sets.hits, a.os_name, a.os_version`,
    [[...byId.keys()]],
  );
  return rows.map((r) => ({ osName: r.os_name, osVersion: r.os_version, assets: r.assets, packages: r.hits.map((id) => byId.get(id)!) }));
}
