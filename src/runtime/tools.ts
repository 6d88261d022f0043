/** Where patchflow caches the tools it provisions, and how it finds programs: shared by temporal-cli.ts and time-skipping-server.ts. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The per-user cache of one provisioned tool: `$XDG_CACHE_HOME/patchflow/<tool>/<version>` (`~/.cache` by default). */
export function toolCacheDir(tool: string, version: string, env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CACHE_HOME ||
    (process.platform === 'darwin' ? path.join(os.homedir(), 'Library', 'Caches') : path.join(os.homedir(), '.cache'));
  return path.join(base, 'patchflow', tool, version);
}

export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` on the environment's PATH. */
export function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}
