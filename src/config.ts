import path from 'node:path';
import { z } from 'zod';
import type { KeyName } from './signing/keys';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

const hostPort = z.string().regex(/^[^\s:/]+(:\d{1,5})$/, 'must be host:port, for example temporal.example.com:7233');

const hexKey = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits (32 bytes)');

const postgresUrl = z.string().refine((value) => /^postgres(ql)?:\/\//.test(value) && URL.canParse(value), {
  message: 'must be a postgres:// or postgresql:// URL',
});

/**
 * Every setting patchflow reads from the environment. An empty variable counts as unset, so
 * `FOO=` in a compose file or shell behaves like leaving it out.
 */
export const EnvSchema = z
  .object({
    TEMPORAL_ADDRESS: hostPort.optional(),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    TEMPORAL_TLS_CERT: z.string().optional().describe('path to the client certificate (PEM)'),
    TEMPORAL_TLS_KEY: z.string().optional().describe('path to the client key (PEM)'),
    TEMPORAL_TLS_CA: z.string().optional().describe('path to a CA bundle for the server (PEM)'),
    TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
    TEMPORAL_API_KEY: z.string().min(1).optional(),
    TEMPORAL_CLI: z.string().optional(),
    DATABASE_URL: postgresUrl.optional(),
    PORT: port(3000),
    PATCHFLOW_DATA_DIR: z.string().min(1).default('.patchflow'),
    PATCHFLOW_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').regex(/^\S+$/, 'must not contain whitespace').optional(),
    PATCHFLOW_UPDATE_SIGNING_KEY: hexKey.optional().describe("the API's Ed25519 secret key for decisions"),
    PATCHFLOW_WORK_ORDER_SIGNING_KEY: hexKey.optional().describe("the worker's Ed25519 secret key for work orders"),
    PATCHFLOW_ORCHESTRATOR_KEY: hexKey.optional().describe("an agent's trusted key: the worker's work-order public key"),
    PATCHFLOW_TEMPORAL_PORT: port(7233),
    PATCHFLOW_TEMPORAL_UI_PORT: port(8233),
    PATCHFLOW_PG_PORT: port(5433),
    LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.TEMPORAL_TLS_CERT) !== Boolean(env.TEMPORAL_TLS_KEY)) {
      const missing = env.TEMPORAL_TLS_CERT ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT';
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: 'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together',
      });
    }
  });

export type Env = z.infer<typeof EnvSchema>;

export interface Config {
  temporal: {
    /** Undefined means: no external server given (`patchflow up` then starts the dev server). */
    address?: string;
    namespace: string;
    tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
    apiKey?: string;
    cliPath?: string;
    devServerPort: number;
    devServerUiPort: number;
  };
  databaseUrl?: string;
  embeddedPostgresPort: number;
  port: number;
  dataDir: string;
  adminToken?: string;
  /** Secret keys given in the environment (hex); unset ones live in `<dataDir>/keys/`. */
  signingKeys: Record<KeyName, string | undefined>;
  /** What a host agent trusts: the public key of the worker's work orders (hex). */
  orchestratorKey?: string;
  logLevel: Env['LOG_LEVEL'];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const relevant = Object.fromEntries(
    Object.keys(EnvSchema.shape)
      .map((key) => [key, source[key]] as const)
      .filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = EnvSchema.safeParse(relevant);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = String(issue.path[0] ?? 'environment');
        const given = key in relevant ? ` (got ${JSON.stringify(redact(key, relevant[key]))})` : '';
        return `${key}: ${issue.message}${given}`;
      }),
    );
  }
  const env = parsed.data;
  const hasTls = env.TEMPORAL_TLS_CERT || env.TEMPORAL_TLS_CA || env.TEMPORAL_TLS_SERVER_NAME;
  return {
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      tls: hasTls
        ? {
            certPath: env.TEMPORAL_TLS_CERT,
            keyPath: env.TEMPORAL_TLS_KEY,
            caPath: env.TEMPORAL_TLS_CA,
            serverName: env.TEMPORAL_TLS_SERVER_NAME,
          }
        : undefined,
      apiKey: env.TEMPORAL_API_KEY,
      cliPath: env.TEMPORAL_CLI,
      devServerPort: env.PATCHFLOW_TEMPORAL_PORT,
      devServerUiPort: env.PATCHFLOW_TEMPORAL_UI_PORT,
    },
    databaseUrl: env.DATABASE_URL,
    embeddedPostgresPort: env.PATCHFLOW_PG_PORT,
    port: env.PORT,
    dataDir: path.resolve(env.PATCHFLOW_DATA_DIR),
    adminToken: env.PATCHFLOW_ADMIN_TOKEN,
    signingKeys: { updates: env.PATCHFLOW_UPDATE_SIGNING_KEY, 'work-orders': env.PATCHFLOW_WORK_ORDER_SIGNING_KEY },
    orchestratorKey: env.PATCHFLOW_ORCHESTRATOR_KEY?.toLowerCase(),
    logLevel: env.LOG_LEVEL,
  };
}

function redact(key: string, value: string | undefined): string | undefined {
  return /TOKEN|KEY|URL/.test(key) ? '***' : value;
}
