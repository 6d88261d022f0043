/**
 * Storing advisory feeds. Every import is idempotent: a record is written when it is new or when
 * its own timestamp (OSV `modified`, CVE `dateUpdated`, KEV catalog version) is newer than the
 * stored one; the same data again changes nothing.
 */
import type { Pool } from 'pg';
import { inTransaction } from './transaction';
import { cveUpdatedAt, cvssScores, cweIds, englishDescription, type CveRecord } from '../domain/cve';
import type { KevCatalog } from '../domain/kev';
import { advisoryCves, advisoryPackageNames, binaryNames, type OsvRecord } from '../domain/osv';

export interface ImportResult {
  imported: number;
  updated: number;
  skipped: number;
}

/** Counts what an upsert with `RETURNING (xmax = 0) AS inserted` did; no row back means skipped. */
function tally(result: ImportResult, rows: { inserted: boolean }[], offered: number) {
  for (const row of rows) {
    if (row.inserted) result.imported++;
    else result.updated++;
  }
  result.skipped += offered - rows.length;
}

export function importOsv(pool: Pool, records: OsvRecord[]): Promise<ImportResult> {
  return inTransaction(pool, async (client) => {
    const result = { imported: 0, updated: 0, skipped: 0 };
    for (const record of records) {
      const { rows } = await client.query<{ inserted: boolean }>(
        `INSERT INTO advisories (id, modified, published, withdrawn, summary, aliases, upstream, cves, package_names, record)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET
           modified = EXCLUDED.modified, published = EXCLUDED.published, withdrawn = EXCLUDED.withdrawn,
           summary = EXCLUDED.summary, aliases = EXCLUDED.aliases, upstream = EXCLUDED.upstream,
           cves = EXCLUDED.cves, package_names = EXCLUDED.package_names, record = EXCLUDED.record,
           imported_at = now()
         WHERE advisories.modified < EXCLUDED.modified
         RETURNING (xmax = 0) AS inserted`,
        [
          record.id,
          record.modified,
          record.published ?? null,
          record.withdrawn ?? null,
          record.summary ?? null,
          record.aliases ?? [],
          record.upstream ?? [],
          advisoryCves(record),
          advisoryPackageNames(record),
          record,
        ],
      );
      tally(result, rows, 1);
    }
    return result;
  });
}

export function importCves(pool: Pool, records: CveRecord[]): Promise<ImportResult> {
  return inTransaction(pool, async (client) => {
    const result = { imported: 0, updated: 0, skipped: 0 };
    for (const record of records) {
      const { rows } = await client.query<{ inserted: boolean }>(
        `INSERT INTO cves (id, state, date_updated, published, description, cwes, cvss, record)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET
           state = EXCLUDED.state, date_updated = EXCLUDED.date_updated, published = EXCLUDED.published,
           description = EXCLUDED.description, cwes = EXCLUDED.cwes, cvss = EXCLUDED.cvss,
           record = EXCLUDED.record, imported_at = now()
         WHERE cves.date_updated < EXCLUDED.date_updated
         RETURNING (xmax = 0) AS inserted`,
        [
          record.cveMetadata.cveId,
          record.cveMetadata.state,
          cveUpdatedAt(record),
          record.cveMetadata.datePublished ?? null,
          englishDescription(record) ?? null,
          cweIds(record),
          JSON.stringify(cvssScores(record)),
          record,
        ],
      );
      tally(result, rows, 1);
    }
    return result;
  });
}

/**
 * The catalog is imported in one statement. An entry changes only when a catalog at least as new
 * says something different about it.
 */
export function importKev(pool: Pool, catalog: KevCatalog): Promise<ImportResult> {
  return inTransaction(pool, async (client) => {
    const entries = catalog.vulnerabilities.map((v) => ({
      cve_id: v.cveID,
      vendor_project: v.vendorProject ?? null,
      product: v.product ?? null,
      vulnerability_name: v.vulnerabilityName ?? null,
      date_added: v.dateAdded,
      due_date: v.dueDate ?? null,
      ransomware: v.knownRansomwareCampaignUse ?? null,
      short_description: v.shortDescription ?? null,
      required_action: v.requiredAction ?? null,
    }));
    const { rows } = await client.query<{ inserted: boolean }>(
      `INSERT INTO kev (cve_id, vendor_project, product, vulnerability_name, date_added, due_date, ransomware,
                        short_description, required_action, catalog_version)
       SELECT DISTINCT ON (cve_id) cve_id, vendor_project, product, vulnerability_name, date_added, due_date,
              ransomware, short_description, required_action, $2
       FROM jsonb_to_recordset($1::jsonb) AS x(cve_id text, vendor_project text, product text,
            vulnerability_name text, date_added date, due_date date, ransomware text,
            short_description text, required_action text)
       ON CONFLICT (cve_id) DO UPDATE SET
         vendor_project = EXCLUDED.vendor_project, product = EXCLUDED.product,
         vulnerability_name = EXCLUDED.vulnerability_name, date_added = EXCLUDED.date_added,
         due_date = EXCLUDED.due_date, ransomware = EXCLUDED.ransomware,
         short_description = EXCLUDED.short_description, required_action = EXCLUDED.required_action,
         catalog_version = EXCLUDED.catalog_version, imported_at = now()
       WHERE kev.catalog_version <= EXCLUDED.catalog_version
         AND (kev.vendor_project, kev.product, kev.vulnerability_name, kev.date_added, kev.due_date,
              kev.ransomware, kev.short_description, kev.required_action)
             IS DISTINCT FROM
             (EXCLUDED.vendor_project, EXCLUDED.product, EXCLUDED.vulnerability_name, EXCLUDED.date_added,
              EXCLUDED.due_date, EXCLUDED.ransomware, EXCLUDED.short_description, EXCLUDED.required_action)
       RETURNING (xmax = 0) AS inserted`,
      [JSON.stringify(entries), catalog.catalogVersion],
    );
    const result = { imported: 0, updated: 0, skipped: 0 };
    tally(result, rows, new Set(entries.map((e) => e.cve_id)).size);
    return result;
  });
}

export interface AdvisoryView {
  id: string;
  summary: string | null;
  modified: string;
  published: string | null;
  withdrawn: string | null;
  aliases: string[];
  upstream: string[];
  severity: unknown[];
  cves: {
    id: string;
    description: string | null;
    cwes: string[];
    cvss: unknown[];
    kev: { dateAdded: string; dueDate: string | null; knownRansomwareCampaignUse: string | null } | null;
  }[];
  knownExploited: boolean;
  affectedPackages: { ecosystem: string; name: string; binaries: string[] }[];
  record: OsvRecord;
}

/** An advisory with its CVEs and KEV entries, found by its id or by one of its aliases. */
export async function loadAdvisories(pool: Pool, ids: string[]): Promise<Map<string, AdvisoryView>> {
  const { rows } = await pool.query(
    `SELECT a.id, a.summary, a.modified, a.published, a.withdrawn, a.aliases, a.upstream, a.cves, a.record,
            coalesce(json_agg(json_build_object(
              'id', c.cve, 'description', cv.description, 'cwes', coalesce(cv.cwes, '{}'),
              'cvss', coalesce(cv.cvss, '[]'),
              'kev', CASE WHEN k.cve_id IS NULL THEN NULL ELSE json_build_object(
                'dateAdded', to_char(k.date_added, 'YYYY-MM-DD'), 'dueDate', to_char(k.due_date, 'YYYY-MM-DD'),
                'knownRansomwareCampaignUse', k.ransomware) END
            ) ORDER BY c.cve) FILTER (WHERE c.cve IS NOT NULL), '[]') AS cve_details
     FROM advisories a
     LEFT JOIN LATERAL unnest(a.cves) AS c(cve) ON true
     LEFT JOIN cves cv ON cv.id = c.cve
     LEFT JOIN kev k ON k.cve_id = c.cve
     WHERE a.id = ANY($1)
     GROUP BY a.id`,
    [ids],
  );
  const views = new Map<string, AdvisoryView>();
  for (const row of rows) {
    const record = row.record as OsvRecord;
    views.set(row.id, {
      id: row.id,
      summary: row.summary,
      modified: row.modified.toISOString(),
      published: row.published?.toISOString() ?? null,
      withdrawn: row.withdrawn?.toISOString() ?? null,
      aliases: row.aliases,
      upstream: row.upstream,
      severity: record.severity ?? [],
      cves: row.cve_details,
      knownExploited: row.cve_details.some((c: { kev: unknown }) => c.kev !== null),
      affectedPackages: record.affected
        .filter((a) => a.package)
        .map((a) => ({
          ecosystem: a.package!.ecosystem,
          name: a.package!.name,
          binaries: binaryNames(a),
        })),
      record,
    });
  }
  return views;
}
