import fs from 'node:fs';
import path from 'node:path';
import { newToken } from '../db/users';

/**
 * The bootstrap admin token: PATCHFLOW_ADMIN_TOKEN when set, otherwise the one generated on the
 * first start and kept (mode 0600) in the data directory.
 */
export function resolveAdminToken(
  dataDir: string,
  fromEnv?: string,
): { token: string; source: 'env' | 'file' | 'generated'; file?: string } {
  if (fromEnv) return { token: fromEnv, source: 'env' };
  const file = path.join(dataDir, 'admin-token');
  if (fs.existsSync(file)) return { token: fs.readFileSync(file, 'utf8').trim(), source: 'file', file };
  fs.mkdirSync(dataDir, { recursive: true });
  const token = newToken();
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, source: 'generated', file };
}
