/**
 * Users and their bearer tokens (tables `users` and `tokens`). A user may hold several tokens;
 * each expires, each can be revoked, and a disabled user's tokens all stop working. Only hashes
 * are stored; a token's value is returned once, when it is issued.
 */
import crypto from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import type { Role } from '../domain/roles';
import { inTransaction } from './transaction';

export interface User {
  id: string;
  name: string;
  roles: Role[];
  /** The token the caller authenticated with (set by findUserByToken). */
  tokenId?: string;
}

/** A user as the admin routes show them. */
export interface UserRecord {
  id: string;
  name: string;
  roles: Role[];
  createdAt: string;
  createdBy: string | null;
  disabledAt: string | null;
  disabledBy: string | null;
}

export type TokenStatus = 'active' | 'expired' | 'revoked';

/** A token's metadata: never its value or its hash. */
export interface TokenRecord {
  id: string;
  userId: string;
  userName: string;
  label: string | null;
  status: TokenStatus;
  createdAt: string;
  createdBy: string;
  /** Null: never (only the bootstrap admin's token installed at start). */
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

export const BOOTSTRAP_ADMIN_ID = 'admin';

export function newToken(): string {
  return `pf_${crypto.randomBytes(32).toString('base64url')}`;
}

const newTokenId = () => `t_${crypto.randomBytes(8).toString('hex')}`;

/** Tokens are 256-bit random strings, so SHA-256 (not a slow password hash) is the right tool. */
export function hashToken(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

export class DuplicateUserError extends Error {
  constructor(readonly userName: string) {
    super(`a user named ${userName} already exists`);
  }
}

/** What a refused change to users or tokens answers (the routes map it to 404, 403 or 409). */
export class UserChangeRefused extends Error {
  constructor(
    readonly reason: 'not-found' | 'forbidden' | 'conflict',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Serialises the changes that could leave nobody able to administer patchflow (disabling a user,
 * revoking a token), so two admins acting at once cannot both pass the check.
 */
const ADMIN_GUARD_LOCK = 0x70660001;

const TOKEN_COLUMNS = `t.id, t.user_id, u.name AS user_name, t.label, t.created_at, t.created_by, t.expires_at, t.revoked_at, t.revoked_by,
  CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked' WHEN t.expires_at <= now() THEN 'expired' ELSE 'active' END AS status`;

interface TokenRow {
  id: string;
  user_id: string;
  user_name: string;
  label: string | null;
  status: TokenStatus;
  created_at: Date;
  created_by: string;
  expires_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
}

const iso = (at: Date | null) => (at ? at.toISOString() : null);

const tokenRecord = (r: TokenRow): TokenRecord => ({
  id: r.id,
  userId: r.user_id,
  userName: r.user_name,
  label: r.label,
  status: r.status,
  createdAt: r.created_at.toISOString(),
  createdBy: r.created_by,
  expiresAt: iso(r.expires_at),
  revokedAt: iso(r.revoked_at),
  revokedBy: r.revoked_by,
});

const USER_COLUMNS = 'id, name, roles, created_at, created_by, disabled_at, disabled_by';

interface UserRow {
  id: string;
  name: string;
  roles: Role[];
  created_at: Date;
  created_by: string | null;
  disabled_at: Date | null;
  disabled_by: string | null;
}

const userRecord = (r: UserRow): UserRecord => ({
  id: r.id,
  name: r.name,
  roles: r.roles,
  createdAt: r.created_at.toISOString(),
  createdBy: r.created_by,
  disabledAt: iso(r.disabled_at),
  disabledBy: r.disabled_by,
});

export interface NewToken {
  expiresAt: Date;
  label?: string;
  createdBy: string;
}

/** A token just issued: its metadata and, this once, its value. */
export type IssuedToken = TokenRecord & { token: string };

async function insertToken(client: PoolClient, userId: string, input: NewToken): Promise<IssuedToken> {
  const token = newToken();
  const { rows } = await client.query<TokenRow>(
    `WITH t AS (
       INSERT INTO tokens (id, user_id, token_hash, label, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *
     )
     SELECT ${TOKEN_COLUMNS} FROM t JOIN users u ON u.id = t.user_id`,
    [newTokenId(), userId, hashToken(token), input.label ?? null, input.createdBy, input.expiresAt],
  );
  return { ...tokenRecord(rows[0]!), token };
}

export async function createUser(
  pool: Pool,
  input: { name: string; roles: Role[] } & NewToken,
): Promise<User & { token: string; tokenId: string; expiresAt: string }> {
  const id = `u_${crypto.randomBytes(8).toString('hex')}`;
  try {
    return await inTransaction(pool, async (client) => {
      await client.query('INSERT INTO users (id, name, roles, created_by) VALUES ($1, $2, $3, $4)', [
        id,
        input.name,
        input.roles,
        input.createdBy,
      ]);
      const issued = await insertToken(client, id, input);
      return { id, name: input.name, roles: input.roles, token: issued.token, tokenId: issued.id, expiresAt: issued.expiresAt! };
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new DuplicateUserError(input.name);
    throw err;
  }
}

/** The user of a token that works now: not revoked, not expired, its user not disabled. */
export async function findUserByToken(pool: Pool, token: string): Promise<User | undefined> {
  const { rows } = await pool.query<User>(
    `SELECT u.id, u.name, u.roles, t.id AS "tokenId"
       FROM tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.disabled_at IS NULL`,
    [hashToken(token)],
  );
  return rows[0];
}

export async function listUsers(pool: Pool): Promise<UserRecord[]> {
  const { rows } = await pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY name`);
  return rows.map(userRecord);
}

export async function findUser(db: Pool | PoolClient, id: string): Promise<UserRecord | undefined> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0] && userRecord(rows[0]);
}

/** Another token for an enabled user. */
export async function issueToken(pool: Pool, userId: string, input: NewToken): Promise<IssuedToken> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ disabled_at: Date | null }>('SELECT disabled_at FROM users WHERE id = $1 FOR SHARE', [userId]);
    if (!rows[0]) throw new UserChangeRefused('not-found', `No user ${userId}`);
    if (rows[0].disabled_at) throw new UserChangeRefused('conflict', `User ${userId} is disabled; enable them first`);
    return insertToken(client, userId, input);
  });
}

/** Every token of a user, newest first, revoked and expired ones included; undefined for an unknown user. */
export async function listTokens(pool: Pool, userId: string): Promise<TokenRecord[] | undefined> {
  if (!(await findUser(pool, userId))) return undefined;
  const { rows } = await pool.query<TokenRow>(
    `SELECT ${TOKEN_COLUMNS} FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = $1 ORDER BY t.created_at DESC, t.id`,
    [userId],
  );
  return rows.map(tokenRecord);
}

export async function findToken(pool: Pool, id: string): Promise<TokenRecord | undefined> {
  const { rows } = await pool.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1`, [
    id,
  ]);
  return rows[0] && tokenRecord(rows[0]);
}

/** How many enabled admins other than `exceptUser` hold a working token other than `exceptToken`. */
async function otherWorkingAdmins(client: PoolClient, except: { user?: string; token?: string }): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(DISTINCT u.id) AS n
       FROM users u JOIN tokens t ON t.user_id = u.id
      WHERE 'admin' = ANY (u.roles) AND u.disabled_at IS NULL
        AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
        AND u.id IS DISTINCT FROM $1 AND t.id IS DISTINCT FROM $2`,
    [except.user ?? null, except.token ?? null],
  );
  return Number(rows[0]!.n);
}

/**
 * Revokes a token: an admin may revoke any, anyone else only their own. Revoking a revoked token
 * changes nothing. The last working token of the last enabled admin is kept (409): issue another
 * first, so that someone can still administer patchflow.
 */
export async function revokeToken(pool: Pool, id: string, by: User): Promise<TokenRecord> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [ADMIN_GUARD_LOCK]);
    const { rows } = await client.query<TokenRow & { roles: Role[]; disabled_at: Date | null }>(
      `SELECT ${TOKEN_COLUMNS}, u.roles, u.disabled_at FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1`,
      [id],
    );
    const row = rows[0];
    if (!row) throw new UserChangeRefused('not-found', `No token ${id}`);
    if (row.user_id !== by.id && !by.roles.includes('admin')) {
      throw new UserChangeRefused('forbidden', "Only an admin may revoke another user's token");
    }
    if (row.status === 'revoked') return tokenRecord(row);
    if (
      row.status === 'active' &&
      row.roles.includes('admin') &&
      !row.disabled_at &&
      (await otherWorkingAdmins(client, { token: id })) === 0
    ) {
      throw new UserChangeRefused('conflict', 'This is the last working token of an enabled admin; issue another one before revoking it');
    }
    const updated = await client.query<TokenRow>(
      `WITH t AS (UPDATE tokens SET revoked_at = now(), revoked_by = $2 WHERE id = $1 RETURNING *)
       SELECT ${TOKEN_COLUMNS} FROM t JOIN users u ON u.id = t.user_id`,
      [id, by.name],
    );
    return tokenRecord(updated.rows[0]!);
  });
}

/**
 * Disables or enables a user. Disabling takes effect at the user's next request; their tokens are
 * kept, and work again once they are enabled. Nobody disables themselves, and the last enabled
 * admin who holds a working token stays enabled (409).
 */
export async function setUserDisabled(pool: Pool, id: string, disabled: boolean, by: User): Promise<UserRecord> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [ADMIN_GUARD_LOCK]);
    const user = await findUser(client, id);
    if (!user) throw new UserChangeRefused('not-found', `No user ${id}`);
    if (disabled) {
      if (id === by.id) throw new UserChangeRefused('conflict', 'You cannot disable yourself');
      if (user.disabledAt) return user;
      if (user.roles.includes('admin') && (await otherWorkingAdmins(client, { user: id })) === 0) {
        throw new UserChangeRefused('conflict', `${user.name} is the last enabled admin with a working token`);
      }
      await client.query('UPDATE users SET disabled_at = now(), disabled_by = $2 WHERE id = $1', [id, by.name]);
    } else {
      if (!user.disabledAt) return user;
      await client.query('UPDATE users SET disabled_at = NULL, disabled_by = NULL WHERE id = $1', [id]);
    }
    return (await findUser(client, id))!;
  });
}

/**
 * What became of the bootstrap admin's token at start: `installed` (new to the database),
 * `active` (known and working), or known but not working: `revoked`, `expired`, `disabled` (the
 * admin user is), `not-admin` (it is another user's token).
 */
export type BootstrapTokenState = 'installed' | 'active' | 'revoked' | 'expired' | 'disabled' | 'not-admin';

/**
 * Makes `token` (PATCHFLOW_ADMIN_TOKEN or `<dataDir>/admin-token`) the bootstrap admin's token;
 * run at every API start, by several API processes at once too. A token the database already
 * knows is never changed: a revoked or expired one stays so (a restart does not bring it back).
 * A token it has never seen is installed without expiry and revokes the bootstrap tokens
 * installed before it (so changing PATCHFLOW_ADMIN_TOKEN retires the old value). A working
 * admin token found there (one issued by `patchflow admin-token rotate`) becomes the bootstrap
 * token, so that a later new one retires it in turn. A disabled admin stays disabled.
 */
export async function ensureBootstrapAdmin(pool: Pool, token: string): Promise<BootstrapTokenState> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [ADMIN_GUARD_LOCK]);
    await client.query(
      `INSERT INTO users (id, name, roles, created_by) VALUES ($1, 'admin', '{admin}', 'bootstrap') ON CONFLICT (id) DO NOTHING`,
      [BOOTSTRAP_ADMIN_ID],
    );
    const hash = hashToken(token);
    const { rows } = await client.query<{ user_id: string; status: TokenStatus; disabled: boolean }>(
      `SELECT t.user_id, u.disabled_at IS NOT NULL AS disabled,
              CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked' WHEN t.expires_at <= now() THEN 'expired' ELSE 'active' END AS status
         FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1`,
      [hash],
    );
    const known = rows[0];
    if (known) {
      if (known.user_id !== BOOTSTRAP_ADMIN_ID) return 'not-admin';
      if (known.status !== 'active') return known.status;
      await client.query('UPDATE tokens SET bootstrap = true WHERE token_hash = $1 AND NOT bootstrap', [hash]);
      return known.disabled ? 'disabled' : 'active';
    }
    await client.query(
      `UPDATE tokens SET revoked_at = now(), revoked_by = 'bootstrap' WHERE user_id = $1 AND bootstrap AND revoked_at IS NULL`,
      [BOOTSTRAP_ADMIN_ID],
    );
    await client.query(
      `INSERT INTO tokens (id, user_id, token_hash, label, bootstrap, created_by, expires_at) VALUES ($1, $2, $3, 'bootstrap', true, 'bootstrap', NULL)`,
      [newTokenId(), BOOTSTRAP_ADMIN_ID, hash],
    );
    const admin = await findUser(client, BOOTSTRAP_ADMIN_ID);
    return admin?.disabledAt ? 'disabled' : 'installed';
  });
}
