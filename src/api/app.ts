import express from 'express';
import pinoHttp from 'pino-http';
import { recordAudit } from '../db/audit';
import { findUserByToken } from '../db/users';
import { DEFAULT_DEADLINES } from './deadlines';
import type { ApiDeps } from './deps';
import { errorHandler, notFoundHandler } from './errors';
import { buildOpenApiDocument } from './openapi';
import { mountRoutes, type AuditRecorder, type Authenticator, type RouteSpec } from './route';
import { auditRoutes } from './routes/audit';
import { deploymentRoutes } from './routes/deployments';
import { feedRoutes } from './routes/feeds';
import { inventoryRoutes } from './routes/inventory';
import { patchViewRoutes } from './routes/patch-views';
import { patchRoutes } from './routes/patches';
import { policyRoutes } from './routes/policy';
import { checkDependencies, systemRoutes } from './routes/system';
import { tokenRoutes } from './routes/tokens';
import { userRoutes } from './routes/users';
import type { Outage } from './unavailable';

export function createApp(deps: ApiDeps): express.Express {
  const routes: RouteSpec[] = [
    ...systemRoutes(deps),
    ...userRoutes(deps),
    ...tokenRoutes(deps),
    ...inventoryRoutes(deps),
    ...feedRoutes(deps),
    ...policyRoutes(deps),
    ...patchRoutes(deps),
    ...patchViewRoutes(deps),
    ...deploymentRoutes(deps),
    ...auditRoutes(deps),
  ];
  const openapi = buildOpenApiDocument(routes, deps.version);

  const authenticate: Authenticator = async (req) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    return match ? findUserByToken(deps.pool, match[1]!) : undefined;
  };

  // A failed audit write is logged and never fails or crashes anything; when the body is what
  // PostgreSQL refused, the call is still recorded, without it.
  const audit: AuditRecorder = async (entry) => {
    const log = deps.logger.child({ component: 'audit' });
    const about = { actor: entry.actorName, method: entry.method, path: entry.path, status: entry.status };
    try {
      await recordAudit(deps.pool, entry);
    } catch (err) {
      log.error({ err, ...about }, 'could not write the audit record; retrying without the body');
      try {
        await recordAudit(deps.pool, { ...entry, body: { unrecordable: true } });
      } catch (again) {
        log.error({ err: again, ...about }, 'could not write the audit record');
      }
    }
  };

  const deadlines = { ...DEFAULT_DEADLINES, ...deps.deadlines };
  const whatIsDown = async (ms: number): Promise<Outage[]> => {
    const checks = await checkDependencies(deps, ms);
    return (['postgres', 'temporal'] as const)
      .filter((dependency) => !checks[dependency].ok)
      .map((dependency) => ({ dependency, reason: checks[dependency].error ?? 'no answer' }));
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(
    pinoHttp({
      logger: deps.logger.child({ component: 'api' }),
      autoLogging: { ignore: (req) => req.url === '/healthz' },
      // a token sent in the query string is refused, but its URL would still be logged
      serializers: { req: (req: { url?: string }) => ({ ...req, url: req.url && withoutQueryValues(req.url) }) },
    }),
  );
  app.get('/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  const router = express.Router();
  mountRoutes(router, routes, {
    authenticate,
    audit,
    deadlines,
    temporalDeadline: (deadline, fn) => deps.temporal.withDeadline(deadline, fn),
    whatIsDown,
    logger: deps.logger.child({ component: 'api' }),
  });
  app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}

/** A request URL with the value of every query parameter replaced: the path and the names stay. */
function withoutQueryValues(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const params = new URLSearchParams(url.slice(at + 1));
  return `${url.slice(0, at)}?${[...params.keys()].map((key) => `${encodeURIComponent(key)}=[redacted]`).join('&')}`;
}
