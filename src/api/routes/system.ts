import type { ApiDeps } from '../deps';
import { defineRoute, type RouteSpec } from '../route';
import { Health, Readiness } from '../schemas';

const CHECK_TIMEOUT_MS = 3000;

export interface Check {
  ok: boolean;
  error?: string;
}

/** Whether Temporal and PostgreSQL each answer within `timeoutMs` (readiness, and a request out of time). */
export async function checkDependencies(deps: Pick<ApiDeps, 'temporal' | 'pool'>, timeoutMs: number) {
  const [temporal, postgres] = await Promise.all([
    check(() => deps.temporal.workflowService.getSystemInfo({}), timeoutMs),
    check(() => deps.pool.query('SELECT 1'), timeoutMs),
  ]);
  return { temporal, postgres };
}

async function check(probe: () => Promise<unknown>, timeoutMs: number): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

export function systemRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/healthz',
      summary: 'Liveness: the API process answers',
      access: 'public',
      responses: { 200: { description: 'alive', schema: Health } },
      handler: async () => ({ body: { status: 'ok' } }),
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      summary: 'Readiness: Temporal and PostgreSQL both reachable',
      access: 'public',
      responses: {
        200: { description: 'ready', schema: Readiness },
        503: { description: 'a dependency is unreachable', schema: Readiness },
      },
      handler: async () => {
        const { temporal, postgres } = await checkDependencies(deps, CHECK_TIMEOUT_MS);
        const ready = temporal.ok && postgres.ok;
        return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not-ready', checks: { temporal, postgres } } };
      },
    }),
  ];
}
