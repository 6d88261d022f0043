/**
 * docker-compose.yml is the production topology; no Docker engine runs here, so the test checks
 * it as `docker compose config` resolves it (when the compose CLI is present) or as YAML.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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
  ports?: unknown[];
  volumes?: unknown[];
  build?: unknown;
  command?: string | string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  healthcheck?: unknown;
};

const FILE = path.join(ROOT, 'docker-compose.yml');
const MTLS = path.join(ROOT, 'deploy', 'compose.mtls.yml');

/**
 * The files as Compose resolves them: the compose plugin, else standalone docker-compose, else
 * YAML (then only the first file, and variables stay unresolved).
 */
function resolvedCompose(files = [FILE]): { services: Record<string, Service>; via: string } {
  const args = files.flatMap((file) => ['-f', file]);
  if (works('docker', ['compose', 'version'])) {
    const json = execFileSync('docker', ['compose', ...args, 'config', '--format', 'json'], { env: ENV });
    return { ...JSON.parse(json.toString()), via: 'docker compose config' };
  }
  if (works('docker-compose', ['version'])) {
    const yaml = execFileSync('docker-compose', [...args, 'config'], { env: ENV });
    return { ...parse(yaml.toString()), via: 'docker-compose config' };
  }
  return { ...parse(fs.readFileSync(files.at(-1)!, 'utf8'), { merge: true }), via: 'yaml' };
}

/** The host interface a published port listens on, whichever form Compose gave it in. */
function hostInterface(port: unknown): string {
  if (typeof port === 'object' && port !== null) return String((port as { host_ip?: string }).host_ip ?? '0.0.0.0');
  const parts = String(port)
    .replace(/^\$\{TEMPORAL_PUBLISH:-([^}]+)\}/, '$1')
    .split(':');
  return parts.length === 3 ? parts[0]! : '0.0.0.0';
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

  it('keeps the Temporal frontend and the Web UI on the loopback interface, and only the API public', () => {
    for (const name of ['temporal', 'temporal-ui']) {
      expect(services[name]!.ports!.length).toBeGreaterThan(0);
      for (const port of services[name]!.ports!) expect(hostInterface(port)).toBe('127.0.0.1');
    }
    expect(services.postgresql!.ports).toBeUndefined();
    expect(services.api!.ports!.map(hostInterface)).toEqual(['0.0.0.0']);
  });

  it("keeps the API's and the worker's signing keys on separate volumes", () => {
    const dataVolume = (name: string) => JSON.stringify(services[name]!.volumes ?? []);
    expect(dataVolume('api')).toContain('api-data');
    expect(dataVolume('worker')).toContain('worker-data');
    expect(dataVolume('api')).not.toContain('worker-data');
  });
});

describe('deploy/compose.mtls.yml', () => {
  const { services } = resolvedCompose([FILE, MTLS]);

  it('makes Temporal require a client certificate from the CA', () => {
    expect(services.temporal!.environment).toMatchObject({
      TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true',
      TEMPORAL_TLS_CLIENT1_CA_CERT: '/certs/ca.pem',
      TEMPORAL_TLS_FRONTEND_CERT: '/certs/server.pem',
    });
  });

  it('gives every client of Temporal a certificate of its own', () => {
    const certificates = ['api', 'worker', 'temporal-ui', 'temporal-setup'].map((name) => {
      const env = services[name]!.environment!;
      expect(env.TEMPORAL_TLS_CA).toBe('/certs/ca.pem');
      expect(env.TEMPORAL_TLS_KEY).toBe(env.TEMPORAL_TLS_CERT!.replace(/\.pem$/, '.key'));
      return env.TEMPORAL_TLS_CERT;
    });
    expect(certificates).toEqual(['/certs/patchflow.pem', '/certs/patchflow.pem', '/certs/temporal-ui.pem', '/certs/admin-tools.pem']);
  });
});

describe('deploy/make-certs.sh', () => {
  it('makes a CA, a server certificate for `temporal` and client certificates that verify against it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certs-'));
    try {
      execFileSync('sh', [path.join(ROOT, 'deploy', 'make-certs.sh'), dir, 'web-01'], { stdio: 'pipe' });
      const verify = (name: string, purpose: string) =>
        execFileSync('openssl', [
          'verify',
          '-purpose',
          purpose,
          '-CAfile',
          path.join(dir, 'ca.pem'),
          path.join(dir, `${name}.pem`),
        ]).toString();
      expect(verify('server', 'sslserver')).toContain(': OK');
      for (const client of ['patchflow', 'temporal-ui', 'admin-tools', 'web-01']) expect(verify(client, 'sslclient')).toContain(': OK');
      const text = execFileSync('openssl', ['x509', '-in', path.join(dir, 'server.pem'), '-noout', '-ext', 'subjectAltName']).toString();
      expect(text).toContain('DNS:temporal');
      expect(fs.statSync(path.join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
