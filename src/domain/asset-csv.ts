/**
 * Assets as CSV (`PUT /v1/assets` with `Content-Type: text/csv`, `patchflow import assets x.csv`).
 * One row per asset, a header row naming the columns (any order):
 *
 *   id, hostname, environment, os_name, os_version, criticality, exposure      (required)
 *   role, redundancy_group, owner, timezone, connector                         (optional)
 *   maintenance_windows   `sat,sun 01:00-05:00; wed 22:00-02:00`
 *   compensating_controls `WAF rule 942; sshd behind VPN`
 *   packages              `name[:arch]=version[@source]` entries separated by `;` or spaces,
 *                         e.g. `openssh-server:amd64=1:8.9p1-3ubuntu0.6@openssh; sudo=1.9.9-1ubuntu2.4`
 *
 * The rows become the JSON shape of an asset; the same zod schema then validates both.
 */
import { parse } from 'csv-parse/sync';
import { assetFieldsFromColumns } from './asset';

export class CsvError extends Error {}

/** The most of a bad line (or of the parser's message about it) an error quotes. */
export const CSV_QUOTE_CHARS = 200;

/** `text` cut to CSV_QUOTE_CHARS characters, saying how long it was: an error never echoes a whole upload. */
export function excerpt(text: string, max = CSV_QUOTE_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

const PACKAGE = /^([^=:\s]+)(?::([^=\s]+))?=([^@\s]+)(?:@(\S+))?$/;
const WINDOW = /^([a-z,]+)\s+(\d\d:\d\d)-(\d\d:\d\d)$/i;

export function assetsFromCsv(text: string): { assets: Record<string, unknown>[] } {
  let rows: Record<string, string>[];
  try {
    rows = parse(text, { columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()), skip_empty_lines: true, trim: true });
  } catch (err) {
    // csv-parse's messages may quote the field it stopped at, whatever its size
    throw new CsvError(`The CSV cannot be read: ${excerpt((err as Error).message, 2 * CSV_QUOTE_CHARS)}`);
  }
  return { assets: rows.map((row, index) => assetFromRow(row, index + 2)) };
}

function assetFromRow(row: Record<string, string>, line: number): Record<string, unknown> {
  const where = `line ${line}${row.id ? ` (${excerpt(row.id, 64)})` : ''}`;
  const optional = (key: string) => (row[key] ? row[key] : undefined);
  const list = (key: string) =>
    row[key]
      ? row[key]
          .split(';')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined;
  const asset: Record<string, unknown> = {
    ...assetFieldsFromColumns(optional),
    compensatingControls: list('compensating_controls'),
    maintenanceWindows: list('maintenance_windows')?.map((w) => {
      const m = WINDOW.exec(w);
      if (!m) throw new CsvError(`${where}: maintenance_windows: "${excerpt(w)}" is not like "sat,sun 01:00-05:00"`);
      return { days: m[1]!.toLowerCase().split(','), start: m[2], end: m[3] };
    }),
    packages: (row.packages ?? '')
      .split(/[;\s]+/)
      .filter(Boolean)
      .map((entry) => {
        const m = PACKAGE.exec(entry);
        if (!m) throw new CsvError(`${where}: packages: "${excerpt(entry)}" is not like "name[:arch]=version[@source]"`);
        return { name: m[1], version: m[3], ...(m[2] ? { arch: m[2] } : {}), ...(m[4] ? { source: m[4] } : {}) };
      }),
  };
  for (const key of Object.keys(asset)) if (asset[key] === undefined) delete asset[key];
  return asset;
}
