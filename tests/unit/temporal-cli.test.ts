import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheDir, provisionTemporalCli, TEMPORAL_CLI_VERSION, TemporalCliError } from '../../src/runtime/temporal-cli';
import { executable, tempDir } from '../helpers/temp-files';

const offline = async () => false;

describe('Temporal CLI lookup order (README, "The Temporal CLI")', () => {
  it('1. TEMPORAL_CLI wins over everything else', async () => {
    const explicit = executable(tempDir('pf-cli-'), 'my-temporal');
    const pathDir = tempDir('pf-cli-');
    executable(pathDir, 'temporal');
    const found = await provisionTemporalCli({ env: { TEMPORAL_CLI: explicit, PATH: pathDir }, internetReachable: offline });
    expect(found).toEqual({ path: explicit, source: 'TEMPORAL_CLI' });
  });

  it('1. a TEMPORAL_CLI that is not executable is an error, not a silent fallback', async () => {
    await expect(
      provisionTemporalCli({ env: { TEMPORAL_CLI: '/nonexistent/temporal', PATH: '' }, internetReachable: offline }),
    ).rejects.toThrow(/TEMPORAL_CLI=\/nonexistent\/temporal is not an executable/);
  });

  it('2. then `temporal` on PATH, before the cache', async () => {
    const pathDir = tempDir('pf-cli-');
    const onPath = executable(pathDir, 'temporal');
    const cache = tempDir('pf-cli-');
    executable(cacheDir({ XDG_CACHE_HOME: cache }), 'temporal');
    const found = await provisionTemporalCli({
      env: { PATH: `/nonexistent:${pathDir}`, XDG_CACHE_HOME: cache },
      internetReachable: offline,
    });
    expect(found).toEqual({ path: onPath, source: 'PATH' });
  });

  it('3. then the per-user cache, versioned', async () => {
    const cache = tempDir('pf-cli-');
    const dir = cacheDir({ XDG_CACHE_HOME: cache });
    expect(dir).toBe(path.join(cache, 'patchflow', 'temporal-cli', TEMPORAL_CLI_VERSION));
    const cached = executable(dir, 'temporal');
    const found = await provisionTemporalCli({ env: { PATH: tempDir('pf-cli-'), XDG_CACHE_HOME: cache }, internetReachable: offline });
    expect(found).toEqual({ path: cached, source: 'cache' });
  });

  it('with neither Go nor internet, says what to install', async () => {
    const error = await provisionTemporalCli({
      env: { PATH: tempDir('pf-cli-'), XDG_CACHE_HOME: tempDir('pf-cli-') },
      internetReachable: offline,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(TemporalCliError);
    expect(error.message).toContain('Go is not installed');
    expect(error.message).toContain('install Go 1.25 or newer');
    expect(error.message).toContain('TEMPORAL_CLI');
  });

  it('treats a Go older than 1.25 as absent, and says so', async () => {
    const bin = tempDir('pf-cli-');
    executable(bin, 'go', 'echo go1.21.4');
    const error = await provisionTemporalCli({ env: { PATH: bin, XDG_CACHE_HOME: tempDir('pf-cli-') }, internetReachable: offline }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(TemporalCliError);
    expect(error.message).toContain('Go 1.21 is installed, but the CLI needs Go 1.25 or newer');
  });
});
