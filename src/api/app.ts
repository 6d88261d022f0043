import express from 'express';
import pinoHttp from 'pino-http';
import { findUserByToken } from '../db/users';
import type { ApiDeps } from './deps';
import { errorHandler, notFoundHandler } from './errors';
import { buildOpenApiDocument } from './openapi';
import { mountRoutes, type Authenticator, type RouteSpec } from './route';
import { feedRoutes } from './routes/feeds';
import { inventoryRoutes } from './routes/inventory';
import { patchRoutes } from './routes/patches';
import { policyRoutes } from './routes/policy';
import { systemRoutes } from './routes/system';
import { userRoutes } from './routes/users';

export function createApp(deps: ApiDeps): express.Express {
  const routes: RouteSpec[] = [
    ...systemRoutes(deps),
    ...userRoutes(deps),
    ...inventoryRoutes(deps),
    ...feedRoutes(deps),
    ...policyRoutes(deps),
    ...patchRoutes(deps),
  ];
  const openapi = buildOpenApiDocument(routes, deps.version);

  const authenticate: Authenticator = async (req) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    return match ? findUserByToken(deps.pool, match[1]!) : undefined;
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(pinoHttp({ logger: deps.logger.child({ component: 'api' }), autoLogging: { ignore: (req) => req.url === '/healthz' } }));
  app.get('/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  const router = express.Router();
  mountRoutes(router, routes, authenticate);
  app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
