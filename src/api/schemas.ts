/**
 * The zod schemas of the HTTP API's own shapes (errors, users, ids, health). The same objects
 * validate requests and generate `GET /v1/openapi.json`, so the document cannot drift from what
 * the server accepts. What people send to open and steer a patch is in domain/patch-requests.ts,
 * the answers' shapes in the domain modules that build them.
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { duration } from '../domain/policy';
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

/** How a new token should live; without either, the policy's `access.tokenLifetime` (docs/security.md). */
const TokenOptions = {
  label: z.string().min(1).max(100).optional().describe('What the token is for, to tell it apart in the list'),
  expiresIn: duration.optional().describe('Its life, such as 30d; at most the policy access.maxTokenLifetime'),
  expiresAt: z.iso.datetime({ offset: true }).optional().describe('When it expires; at most access.maxTokenLifetime from now'),
};

export const CreateUserRequest = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'letters, digits and . _ @ - only, at most 64 characters'),
  roles: z
    .array(Role)
    .min(1)
    .refine((roles) => new Set(roles).size === roles.length, 'roles must not repeat'),
  ...TokenOptions,
});

const TokenValue = z.string().describe('The bearer token. It is shown once; only its hash is stored.');

export const CreatedUser = z.object({
  id: z.string(),
  name: z.string(),
  roles: z.array(Role),
  token: TokenValue,
  tokenId: z.string(),
  expiresAt: z.string(),
});

export const IssueTokenRequest = z.strictObject(TokenOptions);

/** A token's metadata; its value and hash are never shown. */
export const TokenInfo = z.object({
  id: z.string(),
  userId: z.string(),
  userName: z.string(),
  label: z.string().nullable(),
  status: z.enum(['active', 'expired', 'revoked']),
  createdAt: z.string(),
  createdBy: z.string(),
  expiresAt: z.string().nullable().describe('null: never (the bootstrap admin token installed at start)'),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
});
export const IssuedToken = TokenInfo.extend({ token: TokenValue });
export const TokenList = z.object({ tokens: z.array(TokenInfo) });
export const TokenIdParam = z.object({ id: z.string().regex(/^t_[0-9a-f]{16}$/, 'not a token id') });

export const UserInfo = z.object({
  id: z.string(),
  name: z.string(),
  roles: z.array(Role),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
  disabledAt: z.string().nullable(),
  disabledBy: z.string().nullable(),
});
export const UserList = z.object({ users: z.array(UserInfo) });
export const UserIdParam = z.object({ id: z.string().min(1).max(64) });

export const CreatedPatch = z.object({ id: z.string(), workflowId: z.string() });

export const PatchIdParam = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'not a patch id'),
});

export const Health = z.object({ status: z.string() });
export const Readiness = z.object({
  status: z.enum(['ready', 'not-ready']),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), error: z.string().optional() })),
});
