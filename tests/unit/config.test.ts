import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';

describe('configuration from the environment', () => {
  it('has defaults for the embedded stack', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      temporal: { address: undefined, namespace: 'default', devServerPort: 7233, devServerUiPort: 8233 },
      databaseUrl: undefined,
      port: 3000,
      dataDir: path.resolve('.patchflow'),
      logLevel: 'info',
    });
  });

  it('reads every documented variable', () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'temporal.prod:7233',
      TEMPORAL_NAMESPACE: 'patching',
      TEMPORAL_TLS_CERT: '/certs/client.pem',
      TEMPORAL_TLS_KEY: '/certs/client.key',
      TEMPORAL_API_KEY: 'key-123',
      DATABASE_URL: 'postgresql://pf:secret@db:5432/patchflow',
      PORT: '8080',
      PATCHFLOW_DATA_DIR: '/var/lib/patchflow',
      PATCHFLOW_ADMIN_TOKEN: 'a-long-enough-admin-token',
      LOG_LEVEL: 'debug',
    });
    expect(config.temporal).toMatchObject({
      address: 'temporal.prod:7233',
      namespace: 'patching',
      tls: { certPath: '/certs/client.pem', keyPath: '/certs/client.key' },
      apiKey: 'key-123',
    });
    expect(config).toMatchObject({ port: 8080, dataDir: '/var/lib/patchflow', adminToken: 'a-long-enough-admin-token', logLevel: 'debug' });
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 3000, databaseUrl: undefined });
  });

  it('names every bad variable with a clear message, and hides secrets', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        DATABASE_URL: 'mysql://x',
        TEMPORAL_ADDRESS: 'no-port',
        PATCHFLOW_ADMIN_TOKEN: 'short',
      });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = error!.problems;
    expect(lines.find((l) => l.startsWith('PORT:'))).toContain('"eighty"');
    expect(lines.find((l) => l.startsWith('LOG_LEVEL:'))).toMatch(/trace.*silent/);
    expect(lines.find((l) => l.startsWith('DATABASE_URL:'))).toContain('postgres');
    expect(lines.find((l) => l.startsWith('TEMPORAL_ADDRESS:'))).toContain('host:port');
    expect(lines.find((l) => l.startsWith('PATCHFLOW_ADMIN_TOKEN:'))).toContain('16 characters');
    expect(error!.message).not.toContain('mysql://x');
    expect(error!.message).not.toContain('short"');
  });

  it('wants the TLS certificate and key together', () => {
    expect(() => loadConfig({ TEMPORAL_TLS_CERT: '/c.pem' })).toThrow(
      /TEMPORAL_TLS_KEY: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together/,
    );
  });
});
