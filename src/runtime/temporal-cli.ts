/**
 * Finds (or builds) the official Temporal CLI, which carries the dev server and the Web UI.
 * One module for `patchflow up`, the test harness and CI. Lookup order (README, "The Temporal CLI"):
 *   TEMPORAL_CLI → `temporal` on PATH → the per-user cache → `go install` into the cache →
 *   the official release download (only when Go is absent and the internet is reachable).
 */
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { isExecutable, onPath, toolCacheDir } from './tools';

export const TEMPORAL_CLI_VERSION = '1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';
const MIN_GO = [1, 25] as const;
const execFileAsync = promisify(execFile);

export interface ProvisionOptions {
  env?: NodeJS.ProcessEnv;
  /** Receives one human-readable progress line at a time. */
  progress?: (line: string) => void;
  /** Whether the release download is reachable; defaults to a 3 s HEAD request. */
  internetReachable?: () => Promise<boolean>;
}

export interface ProvisionedCli {
  path: string;
  source: 'TEMPORAL_CLI' | 'PATH' | 'cache' | 'go-install' | 'download';
}

export class TemporalCliError extends Error {
  override name = 'TemporalCliError';
}

export const cacheDir = (env: NodeJS.ProcessEnv = process.env): string => toolCacheDir('temporal-cli', TEMPORAL_CLI_VERSION, env);

const binaryName = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

export async function provisionTemporalCli(options: ProvisionOptions = {}): Promise<ProvisionedCli> {
  const env = options.env ?? process.env;
  const progress = options.progress ?? (() => undefined);

  if (env.TEMPORAL_CLI) {
    if (!isExecutable(env.TEMPORAL_CLI)) {
      throw new TemporalCliError(`TEMPORAL_CLI=${env.TEMPORAL_CLI} is not an executable file`);
    }
    return { path: env.TEMPORAL_CLI, source: 'TEMPORAL_CLI' };
  }
  const fromPath = onPath(binaryName, env);
  if (fromPath) return { path: fromPath, source: 'PATH' };

  const dir = cacheDir(env);
  const cached = path.join(dir, binaryName);
  if (isExecutable(cached)) return { path: cached, source: 'cache' };

  const go = await goVersion(env);
  if (go.ok) {
    await goInstall(dir, env, progress);
    return { path: cached, source: 'go-install' };
  }
  if (await (options.internetReachable ?? internetReachable)()) {
    await download(dir, progress);
    return { path: cached, source: 'download' };
  }
  throw new TemporalCliError(
    [
      `The Temporal CLI ${TEMPORAL_CLI_VERSION} was not found, and it cannot be built or downloaded here.`,
      go.reason,
      `Do one of these:`,
      `  - install Go ${MIN_GO.join('.')} or newer (https://go.dev/dl/), then start again: patchflow builds the CLI into ${dir};`,
      `  - install the Temporal CLI (https://docs.temporal.io/cli) and put \`temporal\` on PATH;`,
      `  - set TEMPORAL_CLI to the path of a temporal binary;`,
      `  - or set TEMPORAL_ADDRESS to use a Temporal server you already run.`,
    ].join('\n'),
  );
}

async function goVersion(env: NodeJS.ProcessEnv): Promise<{ ok: boolean; reason: string }> {
  try {
    const { stdout } = await execFileAsync('go', ['env', 'GOVERSION'], { env });
    const match = /go(\d+)\.(\d+)/.exec(stdout);
    if (!match) return { ok: false, reason: `Could not read the Go version from "${stdout.trim()}".` };
    const [major, minor] = [Number(match[1]), Number(match[2])];
    const ok = major > MIN_GO[0] || (major === MIN_GO[0] && minor >= MIN_GO[1]);
    return ok
      ? { ok, reason: '' }
      : { ok, reason: `Go ${major}.${minor} is installed, but the CLI needs Go ${MIN_GO.join('.')} or newer.` };
  } catch {
    return { ok: false, reason: 'Go is not installed (no `go` on PATH).' };
  }
}

/**
 * Builds the CLI with `go install` into a private directory and moves the binary into the cache
 * only once it is complete, so an interrupted build never leaves a broken binary behind.
 */
async function goInstall(dir: string, env: NodeJS.ProcessEnv, progress: (line: string) => void) {
  fs.mkdirSync(dir, { recursive: true });
  const staging = fs.mkdtempSync(path.join(dir, '.build-'));
  const started = Date.now();
  progress(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} from its Go module into ${dir} ` +
      `(first run only; it fetches about 160 modules and takes 2–3 minutes)`,
  );
  let modules = 0;
  let packages = 0;
  const ticker = setInterval(() => {
    const secs = Math.round((Date.now() - started) / 1000);
    progress(`  … ${secs}s: ${modules} modules downloaded, ${packages} packages compiled`);
  }, 10_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        'go',
        [
          'install',
          '-v',
          '-ldflags',
          `-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION}`,
          `${MODULE}@v${TEMPORAL_CLI_VERSION}`,
        ],
        { env: { ...env, GOBIN: staging, CGO_ENABLED: '0' }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let tail = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) {
          if (line.startsWith('go: downloading')) modules++;
          else if (line.trim()) packages++;
        }
        tail = (tail + chunk).slice(-4000);
      });
      child.on('error', reject);
      child.on('exit', (code, signal) =>
        code === 0 ? resolve() : reject(new TemporalCliError(`go install failed (${signal ?? `exit ${code}`}):\n${tail}`)),
      );
    });
    fs.renameSync(path.join(staging, binaryName), path.join(dir, binaryName));
    progress(`Temporal CLI built in ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    clearInterval(ticker);
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

const RELEASE_HOST = 'temporal.download';

function releaseUrl(): string {
  const platform = { darwin: 'darwin', linux: 'linux', win32: 'windows' }[process.platform as string];
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch as string];
  return `https://${RELEASE_HOST}/cli/archive/v${TEMPORAL_CLI_VERSION}?platform=${platform}&arch=${arch}`;
}

async function internetReachable(): Promise<boolean> {
  try {
    const res = await fetch(`https://${RELEASE_HOST}/`, { method: 'HEAD', signal: AbortSignal.timeout(3000) });
    return res.status < 500;
  } catch {
    return false;
  }
}

/** The same release archive the SDK's test server download uses. */
async function download(dir: string, progress: (line: string) => void) {
  progress(`Downloading the Temporal CLI ${TEMPORAL_CLI_VERSION} release into ${dir}`);
  fs.mkdirSync(dir, { recursive: true });
  const staging = fs.mkdtempSync(path.join(dir, '.download-'));
  try {
    const res = await fetch(releaseUrl());
    if (!res.ok) throw new TemporalCliError(`Download failed: HTTP ${res.status} from ${releaseUrl()}`);
    const archive = path.join(staging, 'temporal.tar.gz');
    fs.writeFileSync(archive, Buffer.from(await res.arrayBuffer()));
    await execFileAsync('tar', ['-xzf', archive, '-C', staging]);
    fs.renameSync(path.join(staging, binaryName), path.join(dir, binaryName));
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
