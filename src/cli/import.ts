/**
 * `patchflow import assets|osv|cve|kev <file-or-dir>`: sends files to the API, so imports go
 * through the same validation, roles and logs as any other client.
 */
import fs from 'node:fs';
import path from 'node:path';

export type ImportKind = 'assets' | 'osv' | 'cve' | 'kev';

export interface ImportOptions {
  api: string;
  token: string;
  print: (line: string) => void;
}

const BATCH = 500;

/** Every .json file under a path (itself when it is a file), in name order. */
function jsonFiles(target: string): string[] {
  const stat = fs.statSync(target);
  if (stat.isFile()) return [target];
  return fs
    .readdirSync(target, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(target, f));
}

async function send(options: ImportOptions, method: string, route: string, body: string, contentType = 'application/json') {
  const res = await fetch(new URL(route, options.api), {
    method,
    headers: { authorization: `Bearer ${options.token}`, 'content-type': contentType },
    body,
  });
  const answer = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${answer.error?.message ?? JSON.stringify(answer)}`);
  return answer as Record<string, number>;
}

export async function importFiles(kind: ImportKind, target: string, options: ImportOptions): Promise<void> {
  if (kind === 'assets') {
    const isCsv = target.toLowerCase().endsWith('.csv');
    const text = fs.readFileSync(target, 'utf8');
    const parsed: unknown = isCsv ? null : JSON.parse(text);
    const body = isCsv ? text : JSON.stringify(Array.isArray(parsed) ? { assets: parsed } : parsed);
    const result = await send(options, 'PUT', '/v1/assets', body, isCsv ? 'text/csv' : 'application/json');
    options.print(`assets: ${result.upserted} upserted`);
    return;
  }
  if (kind === 'kev') {
    for (const file of jsonFiles(target).filter((f) => !f.endsWith('_schema.json'))) {
      const result = await send(options, 'POST', '/v1/feeds/kev', fs.readFileSync(file, 'utf8'));
      options.print(`kev ${path.basename(file)}: ${result.imported} imported, ${result.updated} updated, ${result.skipped} unchanged`);
    }
    return;
  }
  const records = jsonFiles(target).flatMap((file) => {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    return Array.isArray(parsed) ? (parsed as unknown[]) : [parsed];
  });
  const total = { imported: 0, updated: 0, skipped: 0 };
  for (let i = 0; i < records.length; i += BATCH) {
    const result = await send(options, 'POST', `/v1/feeds/${kind}`, JSON.stringify(records.slice(i, i + BATCH)));
    total.imported += result.imported!;
    total.updated += result.updated!;
    total.skipped += result.skipped!;
  }
  options.print(`${kind}: ${records.length} records: ${total.imported} imported, ${total.updated} updated, ${total.skipped} unchanged`);
}
