import type { Pool } from 'pg';

/** One API mutation as the audit trail keeps it (table `audit_log`, append-only). */
export interface AuditEntry {
  actorId: string;
  actorName: string;
  method: string;
  path: string;
  status: number;
  /** The request body as sent (JSON, or the text of a CSV upload); null when none was read. */
  body: unknown;
}

export interface AuditRecord extends AuditEntry {
  id: number;
  at: string;
}

/** Bodies above this many bytes are stored as `{"truncated": true, "bytes": N}`. */
export const AUDIT_BODY_LIMIT = 64 * 1024;

/** Keys whose values are never stored, whatever the route (no request body carries them today). */
const SECRET_KEY = /(token|password|secret|api_?key|authorization)$/i;

/** Deeper bodies are stored as a size only (and redacting them could exhaust the stack). */
const MAX_DEPTH = 64;

/**
 * What the audit keeps of a request body of `bytes` bytes: the body, or a size-only marker when
 * it is too large or too deeply nested. Secret-looking fields become `"[redacted]"`; NUL
 * characters and lone surrogates (which jsonb refuses) become U+FFFD, so no body can make its
 * audit row fail. Never throws.
 */
export function auditBody(body: unknown, bytes: number | undefined): unknown {
  if (body === undefined || body === null) return null;
  if (bytes !== undefined && bytes > AUDIT_BODY_LIMIT) return { truncated: true, bytes };
  return clean(body, 0) ?? { truncated: true, bytes: bytes ?? null };
}

/** jsonb refuses NUL characters and lone surrogates; both become U+FFFD. */
const storable = (text: string) =>
  // eslint-disable-next-line no-control-regex -- NUL is exactly what jsonb refuses
  text.replace(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\uFFFD');

/** The value redacted and storable; undefined when nested deeper than MAX_DEPTH. */
function clean(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return storable(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return undefined;
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  const out: [PropertyKey, unknown][] = [];
  for (const [key, inner] of entries) {
    const name = typeof key === 'string' ? storable(key) : key;
    if (typeof key === 'string' && SECRET_KEY.test(key)) {
      out.push([name, '[redacted]']);
      continue;
    }
    const kept = clean(inner, depth + 1);
    if (kept === undefined && inner !== undefined) return undefined;
    out.push([name, kept]);
  }
  return Array.isArray(value) ? out.map(([, v]) => v) : Object.fromEntries(out);
}

export async function recordAudit(pool: Pool, entry: AuditEntry): Promise<void> {
  await pool.query(
    `INSERT INTO audit_log (actor_id, actor_name, method, path, status, body)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
    [entry.actorId, entry.actorName, entry.method, entry.path, entry.status, entry.body === null ? null : JSON.stringify(entry.body)],
  );
}

export interface AuditFilter {
  limit: number;
  offset: number;
  /** A user's name or id. */
  actor?: string;
  /** Paths starting with this. */
  path?: string;
}

/** Newest first. */
export async function listAudit(pool: Pool, filter: AuditFilter): Promise<{ total: number; entries: AuditRecord[] }> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.actor !== undefined) {
    args.push(filter.actor);
    where.push(`(actor_name = $${args.length} OR actor_id = $${args.length})`);
  }
  if (filter.path !== undefined) {
    args.push(`${filter.path.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    where.push(`path LIKE $${args.length}`);
  }
  const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const { rows } = await pool.query<{
    id: string;
    at: Date;
    actor_id: string;
    actor_name: string;
    method: string;
    path: string;
    status: number;
    body: unknown;
    total: string;
  }>(
    `SELECT id, at, actor_id, actor_name, method, path, status, body, count(*) OVER () AS total
       FROM audit_log ${clause}
      ORDER BY id DESC
      LIMIT $${args.length + 1} OFFSET $${args.length + 2}`,
    [...args, filter.limit, filter.offset],
  );
  const total = rows[0] ? Number(rows[0].total) : await countAudit(pool, clause, args);
  return {
    total,
    entries: rows.map((r) => ({
      id: Number(r.id),
      at: r.at.toISOString(),
      actorId: r.actor_id,
      actorName: r.actor_name,
      method: r.method,
      path: r.path,
      status: r.status,
      body: r.body,
    })),
  };
}

/** The total when the page is empty (an offset past the end), where the window count has no row. */
async function countAudit(pool: Pool, clause: string, args: unknown[]): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log ${clause}`, args);
  return Number(rows[0]?.n ?? 0);
}
