/**
 * The zod schemas of the HTTP API's own shapes (errors, users, ids, health). The same objects
 * validate requests and generate `GET /v1/openapi.json`, so the document cannot drift from what
 * the server accepts. What people send to open and steer a patch is in domain/patch-requests.ts,
 * the answers' shapes in the domain modules that build them.
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ROLES } from '../domain/roles';

// Lets zod-to-openapi read these schemas; must run before any schema below is built.
extendZodWithOpenApi(z);

export const ErrorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});

export const Role = z.enum(ROLES);

export const CreateUserRequest = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'letters, digits and . _ @ - only, at most 64 characters'),
  roles: z
    .array(Role)
    .min(1)
    .refine((roles) => new Set(roles).size === roles.length, 'roles must not repeat'),
});

export const CreatedUser = z.object({
  id: z.string(),
  name: z.string(),
  roles: z.array(Role),
  token: z.string().describe('The bearer token. It is shown once; only its hash is stored.'),
});

export const CreatedPatch = z.object({ id: z.string(), workflowId: z.string() });

export const PatchIdParam = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'not a patch id'),
});

export const Health = z.object({ status: z.string() });
export const Readiness = z.object({
  status: z.enum(['ready', 'not-ready']),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), error: z.string().optional() })),
});
