import type { Pool } from 'pg';
import { DEFAULT_POLICY, PolicySchema, type Policy } from '../domain/policy';

export interface StoredPolicy {
  version: number;
  policy: Policy;
  createdBy: string;
  createdAt: string | null;
}

/** The newest policy version, or the built-in defaults (version 0) before anyone changed it. */
export async function currentPolicy(pool: Pool): Promise<StoredPolicy> {
  const { rows } = await pool.query('SELECT version, document, created_by, created_at FROM policy_versions ORDER BY version DESC LIMIT 1');
  const row = rows[0];
  if (!row) return { version: 0, policy: DEFAULT_POLICY, createdBy: 'default', createdAt: null };
  return {
    version: row.version,
    policy: PolicySchema.parse(row.document),
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
  };
}

/** Stores a new version; earlier versions stay for the audit. */
export async function savePolicy(pool: Pool, policy: Policy, createdBy: string): Promise<StoredPolicy> {
  const { rows } = await pool.query('INSERT INTO policy_versions (document, created_by) VALUES ($1, $2) RETURNING version, created_at', [
    policy,
    createdBy,
  ]);
  return { version: rows[0].version, policy, createdBy, createdAt: rows[0].created_at.toISOString() };
}
