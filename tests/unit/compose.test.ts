/**
 * docker-compose.yml is the production topology; no Docker engine runs here, so the test checks
 * it as `docker compose config` resolves it (when the compose CLI is present) or as YAML.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PATCH_SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes';

const ROOT = path.resolve(__dirname, '..', '..');
const ENV = { ...process.env, PATCHFLOW_ADMIN_TOKEN: 'compose-test-token-0123456789' };

function works(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

type Service = {
  image?: string;
  build?: unknown;
  command?: string | string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  healthcheck?: unknown;
};

const FILE = path.join(ROOT, 'docker-compose.yml');

/** The file as Compose resolves it: the compose plugin, else standalone docker-compose, else YAML. */
function resolvedCompose(): { services: Record<string, Service>; via: string } {
  if (works('docker', ['compose', 'version'])) {
    const json = execFileSync('docker', ['compose', '-f', FILE, 'config', '--format', 'json'], { env: ENV });
    return { ...JSON.parse(json.toString()), via: 'docker compose config' };
  }
  if (works('docker-compose', ['version'])) {
    const yaml = execFileSync('docker-compose', ['-f', FILE, 'config'], { env: ENV });
    return { ...parse(yaml.toString()), via: 'docker-compose config' };
  }
  return { ...parse(fs.readFileSync(FILE, 'utf8'), { merge: true }), via: 'yaml' };
}

describe('docker-compose.yml', () => {
  const { services, via } = resolvedCompose();
  console.info(`docker-compose.yml checked through ${via}`);
  const text = (s: Service) => JSON.stringify(s.command ?? '');

  it('has every part of the topology', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['api', 'postgresql', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker'].sort(),
    );
    expect(services.temporal!.image).toMatch(/^temporalio\/server:/);
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
    for (const name of ['api', 'worker']) expect(services[name]!.build).toBeTruthy();
    expect(fs.existsSync(path.join(ROOT, 'Dockerfile'))).toBe(true);
  });

  it('creates both Temporal databases with temporal-sql-tool from admin-tools', () => {
    const job = services['temporal-schema']!;
    expect(job.image).toMatch(/^temporalio\/admin-tools:/);
    for (const part of ['temporal-sql-tool', 'temporal_visibility', 'setup-schema', 'update-schema']) expect(text(job)).toContain(part);
  });

  it('registers the namespace and every patch search attribute', () => {
    const job = services['temporal-setup']!;
    for (const key of PATCH_SEARCH_ATTRIBUTES) expect(text(job)).toContain(key.name);
    expect(text(job)).toContain('namespace create');
  });

  it('starts in order: database, schema, server, setup, then api, then worker', () => {
    const after = (name: string) => Object.entries(services[name]!.depends_on ?? {}).map(([dep, { condition }]) => `${dep}:${condition}`);
    expect(services.postgresql!.healthcheck).toBeTruthy();
    expect(after('temporal-schema')).toEqual(['postgresql:service_healthy']);
    expect(after('temporal')).toEqual(['temporal-schema:service_completed_successfully']);
    expect(after('temporal-setup')).toEqual(['temporal:service_started']);
    expect(after('api')).toEqual(expect.arrayContaining(['postgresql:service_healthy', 'temporal-setup:service_completed_successfully']));
    expect(services.api!.healthcheck).toBeTruthy();
    expect(after('worker')).toEqual(['api:service_healthy']);
  });

  it('points api and worker at the cluster and the database', () => {
    for (const name of ['api', 'worker']) {
      expect(services[name]!.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'default' });
      expect(services[name]!.environment!.DATABASE_URL).toMatch(/^postgresql:\/\/patchflow:.*@postgresql:5432\/patchflow$/);
    }
  });
});
