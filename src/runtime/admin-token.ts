import fs from 'node:fs';
import path from 'node:path';
import { newToken } from '../db/users';

/** Where the bootstrap admin token is kept when PATCHFLOW_ADMIN_TOKEN is unset. */
export function adminTokenFile(dataDir: string): string {
  return path.join(dataDir, 'admin-token');
}

/**
 * The bootstrap admin token: PATCHFLOW_ADMIN_TOKEN when set, otherwise the one generated on the
 * first start and kept (mode 0600) in the data directory. After `patchflow admin-token rotate`
 * the file holds the new token.
 */
export function resolveAdminToken(
  dataDir: string,
  fromEnv?: string,
): { token: string; source: 'env' | 'file' | 'generated'; file?: string } {
  if (fromEnv) return { token: fromEnv, source: 'env' };
  const file = adminTokenFile(dataDir);
  if (fs.existsSync(file)) return { token: fs.readFileSync(file, 'utf8').trim(), source: 'file', file };
  fs.mkdirSync(dataDir, { recursive: true });
  const token = newToken();
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, source: 'generated', file };
}

/**
 * Replaces the token in `<dataDir>/admin-token`: written to a temporary file of mode 0600 first
 * and renamed over it, so the file never holds half a token nor is readable by others.
 */
export function writeAdminTokenFile(dataDir: string, token: string): string {
  const file = adminTokenFile(dataDir);
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${token}\n`, { mode: 0o600, flag: 'w' });
  fs.chmodSync(temporary, 0o600); // an existing temporary file keeps its mode through writeFileSync
  fs.renameSync(temporary, file);
  return file;
}
