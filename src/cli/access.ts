/**
 * `patchflow users …`, `patchflow tokens …` and `patchflow admin-token rotate`: thin clients of
 * the HTTP API's user and token routes (docs/http-api.md), so they go through the same roles,
 * checks and audit trail as any other client. No token value is ever written to stderr or a log;
 * a new one goes to stdout (or, for the bootstrap admin, into its file) and nowhere else.
 */
import fs from 'node:fs';
import { adminTokenFile, writeAdminTokenFile } from '../runtime/admin-token';

export interface AccessOptions {
  api: string;
  token: string;
  /** What the command prints (stdout). */
  print: (line: string) => void;
  /** Remarks beside it (stderr). */
  note: (line: string) => void;
}

interface TokenInfo {
  id: string;
  userId: string;
  userName: string;
  label: string | null;
  status: string;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

interface UserInfo {
  id: string;
  name: string;
  roles: string[];
  disabledAt: string | null;
  disabledBy: string | null;
}

export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(options: { api: string; token: string }, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(route, options.api), {
    method,
    headers: { authorization: `Bearer ${options.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) throw new ApiCallError(res.status, `${method} ${route}: ${res.status} ${answer.error?.message ?? JSON.stringify(answer)}`);
  return answer as T;
}

/** A user named by their name or their id. */
async function resolveUser(options: AccessOptions, nameOrId: string): Promise<UserInfo> {
  const { users } = await call<{ users: UserInfo[] }>(options, 'GET', '/v1/users');
  const user = users.find((u) => u.id === nameOrId) ?? users.find((u) => u.name === nameOrId);
  if (!user) throw new Error(`no user named ${nameOrId}`);
  return user;
}

export interface TokenTerms {
  label?: string;
  expiresIn?: string;
  expiresAt?: string;
}

const describeExpiry = (t: TokenInfo) => (t.expiresAt ? `expires ${t.expiresAt}` : 'never expires');

/** Issues another token to a user: the token on stdout (alone, for `$(…)`), what it is on stderr. */
export async function issueToken(options: AccessOptions, user: string, terms: TokenTerms): Promise<void> {
  const target = await resolveUser(options, user);
  const issued = await call<TokenInfo & { token: string }>(options, 'POST', `/v1/users/${encodeURIComponent(target.id)}/tokens`, terms);
  options.note(`issued ${issued.id} to ${issued.userName}${issued.label ? ` (${issued.label})` : ''}, ${describeExpiry(issued)}`);
  options.print(issued.token);
}

export async function listTokens(options: AccessOptions, user: string): Promise<void> {
  const target = await resolveUser(options, user);
  const { tokens } = await call<{ tokens: TokenInfo[] }>(options, 'GET', `/v1/users/${encodeURIComponent(target.id)}/tokens`);
  for (const t of tokens) {
    const state = t.status === 'revoked' ? `revoked ${t.revokedAt} by ${t.revokedBy}` : describeExpiry(t);
    options.print(`${t.id}  ${t.status.padEnd(7)}  created ${t.createdAt} by ${t.createdBy}  ${state}${t.label ? `  ${t.label}` : ''}`);
  }
  if (tokens.length === 0) options.note(`${target.name} has no token`);
}

export async function revokeToken(options: AccessOptions, id: string): Promise<void> {
  const revoked = await call<TokenInfo>(options, 'DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
  options.print(`revoked ${revoked.id} of ${revoked.userName}`);
}

export async function listUsers(options: AccessOptions): Promise<void> {
  const { users } = await call<{ users: UserInfo[] }>(options, 'GET', '/v1/users');
  for (const u of users) {
    options.print(`${u.name}  ${u.id}  ${u.roles.join(',')}${u.disabledAt ? `  disabled ${u.disabledAt} by ${u.disabledBy}` : ''}`);
  }
}

export async function setUserDisabled(options: AccessOptions, user: string, disabled: boolean): Promise<void> {
  const target = await resolveUser(options, user);
  const changed = await call<UserInfo>(options, 'POST', `/v1/users/${encodeURIComponent(target.id)}/${disabled ? 'disable' : 'enable'}`);
  options.print(`${changed.name} is ${changed.disabledAt ? 'disabled' : 'enabled'}`);
}

/**
 * Rotates the bootstrap admin's token: issues a new one, puts it where the API's start reads it
 * (the data directory's `admin-token`, when that is where the old one came from), checks that it
 * works, then revokes the old one. The order means a failure half-way leaves a working token in
 * the file. With PATCHFLOW_ADMIN_TOKEN the new token is printed: set it there before the next
 * start (a start with the old value finds it revoked and does not bring it back).
 */
export async function rotateAdminToken(
  options: AccessOptions & { dataDir: string; source: 'option' | 'env' | 'file' },
  terms: TokenTerms,
): Promise<void> {
  const current = await call<TokenInfo>(options, 'GET', '/v1/tokens/current');
  if (current.userId !== 'admin') throw new Error(`this is a token of ${current.userName}, not of the bootstrap admin (user admin)`);
  const issued = await call<TokenInfo & { token: string }>(options, 'POST', '/v1/users/admin/tokens', {
    label: terms.label ?? 'admin-token',
    ...(terms.expiresIn === undefined ? {} : { expiresIn: terms.expiresIn }),
    ...(terms.expiresAt === undefined ? {} : { expiresAt: terms.expiresAt }),
  });
  const file = adminTokenFile(options.dataDir);
  // with PATCHFLOW_ADMIN_TOKEN the API's start reads the environment, never the file
  const inFile = options.source !== 'env' && fs.existsSync(file) && fs.readFileSync(file, 'utf8').trim() === options.token;
  if (inFile) writeAdminTokenFile(options.dataDir, issued.token);
  const fresh = { api: options.api, token: issued.token };
  const check = await call<TokenInfo>(fresh, 'GET', '/v1/tokens/current');
  if (check.id !== issued.id) throw new Error(`the new token answers as ${check.id}, not ${issued.id}; the old one was kept`);
  await call<TokenInfo>(fresh, 'DELETE', `/v1/tokens/${encodeURIComponent(current.id)}`);
  options.note(`revoked the old admin token ${current.id}; the new one is ${issued.id}, ${describeExpiry(issued)}`);
  if (inFile) {
    options.print(`the new admin token is in ${file}`);
  } else {
    if (options.source === 'env') options.note('PATCHFLOW_ADMIN_TOKEN is set: put the new token there before the API starts again');
    options.print(issued.token);
  }
}
