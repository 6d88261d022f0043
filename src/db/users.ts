import crypto from 'node:crypto';
import type { Pool } from 'pg';
import type { Role } from '../domain/roles';

export interface User {
  id: string;
  name: string;
  roles: Role[];
}

export const BOOTSTRAP_ADMIN_ID = 'admin';

export function newToken(): string {
  return `pf_${crypto.randomBytes(32).toString('base64url')}`;
}

/** Tokens are 256-bit random strings, so SHA-256 (not a slow password hash) is the right tool. */
export function hashToken(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

export class DuplicateUserError extends Error {
  constructor(readonly userName: string) {
    super(`a user named ${userName} already exists`);
  }
}

export async function createUser(pool: Pool, input: { name: string; roles: Role[]; createdBy: string }): Promise<User & { token: string }> {
  const token = newToken();
  const id = `u_${crypto.randomBytes(8).toString('hex')}`;
  try {
    await pool.query('INSERT INTO users (id, name, roles, token_hash, created_by) VALUES ($1, $2, $3, $4, $5)', [
      id,
      input.name,
      input.roles,
      hashToken(token),
      input.createdBy,
    ]);
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new DuplicateUserError(input.name);
    throw err;
  }
  return { id, name: input.name, roles: input.roles, token };
}

export async function findUserByToken(pool: Pool, token: string): Promise<User | undefined> {
  const { rows } = await pool.query<User>('SELECT id, name, roles FROM users WHERE token_hash = $1', [hashToken(token)]);
  return rows[0];
}

/** Makes `token` the bootstrap admin's token (idempotent; several API processes may run this). */
export async function ensureBootstrapAdmin(pool: Pool, token: string): Promise<void> {
  await pool.query(
    `INSERT INTO users (id, name, roles, token_hash, created_by) VALUES ($1, 'admin', '{admin}', $2, 'bootstrap')
     ON CONFLICT (id) DO UPDATE SET token_hash = EXCLUDED.token_hash`,
    [BOOTSTRAP_ADMIN_ID, hashToken(token)],
  );
}
