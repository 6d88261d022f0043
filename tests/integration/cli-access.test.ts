/**
 * `patchflow tokens …`, `patchflow users …` and `patchflow admin-token rotate` (the compiled CLI)
 * against the real API: each verb does what its route does, the admin token comes from the data
 * directory as on the machine running `patchflow up`, and rotation rewrites that file (0600).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureBootstrapAdmin } from '../../src/db/users';
import { resolveAdminToken } from '../../src/runtime/admin-token';
import { startTestStack, type TestStack } from '../helpers/servers';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '..', '..', 'bin', 'patchflow.js');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-cli-access-'));
const tokenFile = path.join(dataDir, 'admin-token');
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  fs.writeFileSync(tokenFile, `${stack.adminToken}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await stack?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** The CLI with the data directory and API of this test, and no token in the environment. */
async function patchflow(args: string[], env: Record<string, string> = {}) {
  const { PATCHFLOW_TOKEN: _t, PATCHFLOW_ADMIN_TOKEN: _a, ...inherited } = process.env;
  return run(process.execPath, [CLI, ...args], {
    env: { ...inherited, PATCHFLOW_DATA_DIR: dataDir, PATCHFLOW_API_URL: stack.baseUrl, LOG_LEVEL: 'silent', ...env },
  });
}

const works = async (token: string) => (await stack.call('GET', '/v1/tokens/current', { token })).status === 200;

it('issues, lists and revokes tokens, and disables and enables users', async () => {
  const first = await stack.user('cleo', ['operator']);

  const issued = await patchflow(['tokens', 'issue', 'cleo', '--label', 'ci', '--expires-in', '30d']);
  const token = issued.stdout.trim();
  expect(token).toMatch(/^pf_[\w-]+$/);
  expect(issued.stderr).toMatch(/^issued t_[0-9a-f]{16} to cleo \(ci\), expires 20\d\d-/);
  expect(await works(token)).toBe(true);
  const id = /issued (t_[0-9a-f]{16})/.exec(issued.stderr)![1]!;

  const tooLong = await patchflow(['tokens', 'issue', 'cleo', '--expires-in', '400d']).catch((err: { stderr: string }) => err);
  expect(tooLong.stderr).toContain('400 a token may live at most 365d');

  const listed = await patchflow(['tokens', 'list', 'cleo']);
  const lines = listed.stdout.trim().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(new RegExp(`^${id}  active   created .* by admin  expires .*  ci$`));
  expect(listed.stdout).not.toContain(token);
  expect(listed.stdout).not.toContain(first);

  expect((await patchflow(['tokens', 'revoke', id])).stdout).toBe(`revoked ${id} of cleo\n`);
  expect(await works(token)).toBe(false);
  expect(await works(first)).toBe(true);
  expect((await patchflow(['tokens', 'list', 'cleo'])).stdout).toMatch(new RegExp(`${id}  revoked  .* revoked .* by admin`));

  expect((await patchflow(['users', 'list'])).stdout).toMatch(/^admin {2}admin {2}admin\ncleo {2}u_[0-9a-f]+ {2}operator\n$/);
  expect((await patchflow(['users', 'disable', 'cleo'])).stdout).toBe('cleo is disabled\n');
  expect(await works(first)).toBe(false);
  expect((await patchflow(['users', 'list'])).stdout).toMatch(/cleo {2}u_[0-9a-f]+ {2}operator {2}disabled .* by admin/);
  expect((await patchflow(['users', 'enable', 'cleo'])).stdout).toBe('cleo is enabled\n');
  expect(await works(first)).toBe(true);

  // a non-admin gets the API's 403
  const refused = await patchflow(['users', 'disable', 'admin', '--token', first]).catch((err: { stderr: string }) => err);
  expect(refused.stderr).toContain('403 This needs one of the roles: admin');
});

it('rotates the bootstrap admin token in <dataDir>/admin-token (0600) without a restart; a restart keeps the new one', async () => {
  const old = fs.readFileSync(tokenFile, 'utf8').trim();
  const rotated = await patchflow(['admin-token', 'rotate']);
  expect(rotated.stdout).toBe(`the new admin token is in ${tokenFile}\n`);
  expect(rotated.stderr).toMatch(/^revoked the old admin token t_[0-9a-f]{16}; the new one is t_[0-9a-f]{16}, expires 20\d\d-/);
  const fresh = fs.readFileSync(tokenFile, 'utf8').trim();
  expect(fresh).toMatch(/^pf_/);
  expect(fresh).not.toBe(old);
  expect(fs.statSync(tokenFile).mode & 0o777).toBe(0o600);
  expect(`${rotated.stdout}${rotated.stderr}`).not.toContain(fresh);
  expect(await works(old)).toBe(false);
  expect(await works(fresh)).toBe(true);

  // what the API does at its next start: read the file, ensure the bootstrap admin
  const admin = resolveAdminToken(dataDir);
  expect(admin).toMatchObject({ source: 'file', token: fresh });
  expect(await ensureBootstrapAdmin(stack.pool, admin.token)).toBe('active');
  expect(await works(fresh)).toBe(true);
  expect(await works(old)).toBe(false);

  // with PATCHFLOW_ADMIN_TOKEN the file is not the admin token's home: the new token is printed
  const viaEnv = await patchflow(['admin-token', 'rotate', '--expires-in', '7d'], { PATCHFLOW_ADMIN_TOKEN: fresh });
  const printed = viaEnv.stdout.trim();
  expect(printed).toMatch(/^pf_/);
  expect(viaEnv.stderr).toContain('PATCHFLOW_ADMIN_TOKEN is set: put the new token there before the API starts again');
  expect(fs.readFileSync(tokenFile, 'utf8').trim()).toBe(fresh);
  expect(await works(fresh)).toBe(false);
  expect(await works(printed)).toBe(true);
  // a start with the stale PATCHFLOW_ADMIN_TOKEN does not bring it back
  expect(await ensureBootstrapAdmin(stack.pool, fresh)).toBe('revoked');
  expect(await works(fresh)).toBe(false);

  // another user's token is not the bootstrap admin's
  const other = (await stack.call('POST', '/v1/users', { token: printed, body: { name: 'ada', roles: ['admin'] } })).body.token as string;
  const wrong = await patchflow(['admin-token', 'rotate', '--token', other]).catch((err: { stderr: string }) => err);
  expect(wrong.stderr).toContain('this is a token of ada, not of the bootstrap admin (user admin)');
});
