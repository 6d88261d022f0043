import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import { ErrorResponse } from './schemas';
import type { RouteSpec } from './route';

const ERROR_RESPONSES: Record<number, string> = {
  400: 'Bad input (malformed JSON, wrong types, unknown fields)',
  401: 'No or bad bearer token',
  403: 'Role or segregation of duties',
  404: 'Not found',
  409: 'Wrong phase or duplicate',
  413: 'Body too large',
  415: 'Body is not JSON',
  503: 'PostgreSQL, Temporal or the patchflow worker does not answer (code `unavailable`, `details.dependency`); a write says whether it was applied',
};

/** The OpenAPI 3.1 document of every route, from the same zod schemas that validate requests. */
export function buildOpenApiDocument(routes: RouteSpec[], version: string) {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  registry.register('Error', ErrorResponse);

  for (const route of routes) {
    const errors = route.access === 'public' ? [] : [401, ...(route.access === 'authenticated' ? [] : [403])];
    if (route.body) errors.push(400, 413, 415);
    else if (route.params || route.query) errors.push(400);
    // every route that reads the token needs PostgreSQL
    if (route.access !== 'public') errors.push(503);
    const responses: Record<string, { description: string; content?: Record<string, { schema: z.ZodType }> }> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      const content = {
        ...(response.schema ? { 'application/json': { schema: response.schema } } : {}),
        ...Object.fromEntries(Object.entries(response.media ?? {}).map(([type, schema]) => [type, { schema }])),
      };
      responses[status] = { description: response.description, ...(Object.keys(content).length > 0 ? { content } : {}) };
    }
    for (const status of errors) {
      responses[status] ??= { description: ERROR_RESPONSES[status]!, content: { 'application/json': { schema: ErrorResponse } } };
    }
    registry.registerPath({
      method: route.method,
      path: route.path.replace(/:(\w+)/g, '{$1}'),
      summary: route.summary,
      description: route.access === 'public' ? undefined : `Who: ${describeAccess(route.access)}`,
      security: route.access === 'public' ? [] : [{ [bearer.name]: [] }],
      request: {
        ...(route.params ? { params: route.params as z.ZodObject } : {}),
        ...(route.query ? { query: route.query as z.ZodObject } : {}),
        ...(route.body ? { body: { required: true, content: { 'application/json': { schema: route.body } } } } : {}),
      },
      responses,
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'patchflow API',
      version,
      description: 'Patch management as durable Temporal workflows. Errors: {"error": {"code", "message", "details"}}.',
    },
    servers: [{ url: '/' }],
  });
}

function describeAccess(access: RouteSpec['access']): string {
  return access === 'authenticated' ? 'any role' : Array.isArray(access) ? access.join(', ') : access;
}
