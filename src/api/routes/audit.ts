import { z } from 'zod';
import { listAudit } from '../../db/audit';
import type { ApiDeps } from '../deps';
import { defineRoute, type RouteSpec } from '../route';

const AuditQuery = z.strictObject({
  actor: z.string().min(1).max(128).optional().describe("a user's name or id"),
  path: z.string().startsWith('/', 'a path prefix such as /v1/patches').max(1000).optional().describe('a path prefix'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

const AuditRecord = z.object({
  id: z.number().int(),
  at: z.string().describe('ISO 8601'),
  actorId: z.string(),
  actorName: z.string(),
  method: z.string(),
  path: z.string(),
  status: z.number().int(),
  body: z.unknown().describe('the request body; {"truncated": true, "bytes": N} above 64 KiB; null when none was read'),
});

const AuditPage = z.object({
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
  entries: z.array(AuditRecord),
});

export function auditRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/audit',
      summary: 'The audit trail: every API mutation with its actor and status, newest first (append-only)',
      access: ['auditor', 'admin'],
      query: AuditQuery,
      responses: { 200: { description: 'a page of audit records', schema: AuditPage } },
      handler: async ({ query }) => {
        const page = await listAudit(deps.pool, query);
        return { body: { total: page.total, limit: query.limit, offset: query.offset, entries: page.entries } };
      },
    }),
  ];
}
