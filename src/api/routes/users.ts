import { currentPolicy } from '../../db/policy';
import {
  createUser,
  DuplicateUserError,
  issueToken,
  listTokens,
  listUsers,
  setUserDisabled,
  UserChangeRefused,
  type NewToken,
} from '../../db/users';
import { tokenExpiry, type RequestedExpiry } from '../../domain/token-expiry';
import type { ApiDeps } from '../deps';
import { ApiError, badRequest, conflict, notFound } from '../errors';
import { defineRoute, type RouteSpec } from '../route';
import { CreatedUser, CreateUserRequest, IssuedToken, IssueTokenRequest, TokenList, UserIdParam, UserInfo, UserList } from '../schemas';

/** The expiry and label of a token about to be issued, from the request and the policy in force. */
async function newTokenTerms(deps: ApiDeps, body: RequestedExpiry & { label?: string }, createdBy: string): Promise<NewToken> {
  const { policy } = await currentPolicy(deps.pool);
  const expiry = tokenExpiry(policy.access, body, new Date());
  if (!expiry.ok) {
    throw badRequest(expiry.message, { maxTokenLifetime: policy.access.maxTokenLifetime, latest: expiry.latest.toISOString() });
  }
  return { expiresAt: expiry.expiresAt, label: body.label, createdBy };
}

/** A refusal from the users and tokens tables as the API's error. */
export function refusal(err: unknown): unknown {
  if (!(err instanceof UserChangeRefused)) return err;
  if (err.reason === 'not-found') return notFound(err.message);
  if (err.reason === 'forbidden') return new ApiError(403, 'forbidden', err.message);
  return conflict(err.message);
}

export function userRoutes(deps: ApiDeps): RouteSpec[] {
  const setDisabled = (disabled: boolean) =>
    defineRoute({
      method: 'post',
      path: `/v1/users/:id/${disabled ? 'disable' : 'enable'}`,
      summary: disabled
        ? 'Disable a user: every one of their tokens stops working at once (not yourself, not the last admin with a working token)'
        : 'Enable a disabled user: their tokens that are neither revoked nor expired work again',
      access: ['admin'],
      params: UserIdParam,
      responses: {
        200: { description: 'the user', schema: UserInfo },
        404: { description: 'no such user' },
        409: { description: 'yourself, or the last enabled admin' },
      },
      handler: async ({ params, user }) => {
        try {
          const changed = await setUserDisabled(deps.pool, params.id, disabled, user);
          deps.logger.info({ user: changed.name, by: user.name }, disabled ? 'user disabled' : 'user enabled');
          return { body: changed };
        } catch (err) {
          throw refusal(err);
        }
      },
    });

  return [
    defineRoute({
      method: 'post',
      path: '/v1/users',
      summary: 'Create a user and issue their bearer token (shown once, stored hashed; it expires after the policy access.tokenLifetime)',
      access: ['admin'],
      body: CreateUserRequest,
      responses: {
        201: { description: 'created', schema: CreatedUser },
        400: { description: 'a lifetime past the policy access.maxTokenLifetime' },
        409: { description: 'name taken' },
      },
      handler: async ({ body, user }) => {
        const terms = await newTokenTerms(deps, body, user.name);
        try {
          const created = await createUser(deps.pool, { name: body.name, roles: body.roles, ...terms });
          deps.logger.info({ user: created.name, roles: created.roles, tokenId: created.tokenId, by: user.name }, 'user created');
          return { status: 201, body: created };
        } catch (err) {
          if (err instanceof DuplicateUserError) throw conflict(err.message);
          throw err;
        }
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/users',
      summary: 'Every user with their roles and whether they are disabled',
      access: ['admin', 'auditor'],
      responses: { 200: { description: 'the users, by name', schema: UserList } },
      handler: async () => ({ body: { users: await listUsers(deps.pool) } }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/users/:id/tokens',
      summary: 'Issue another bearer token to a user (shown once, stored hashed)',
      access: ['admin'],
      params: UserIdParam,
      body: IssueTokenRequest,
      responses: {
        201: { description: 'issued', schema: IssuedToken },
        400: { description: 'a lifetime past the policy access.maxTokenLifetime' },
        404: { description: 'no such user' },
        409: { description: 'the user is disabled' },
      },
      handler: async ({ params, body, user }) => {
        const terms = await newTokenTerms(deps, body, user.name);
        try {
          const issued = await issueToken(deps.pool, params.id, terms);
          deps.logger.info({ user: issued.userName, tokenId: issued.id, expiresAt: issued.expiresAt, by: user.name }, 'token issued');
          return { status: 201, body: issued };
        } catch (err) {
          throw refusal(err);
        }
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/users/:id/tokens',
      summary: "A user's tokens, newest first, revoked and expired ones included (metadata only: never a token or its hash)",
      access: ['admin'],
      params: UserIdParam,
      responses: { 200: { description: 'the tokens', schema: TokenList }, 404: { description: 'no such user' } },
      handler: async ({ params }) => {
        const tokens = await listTokens(deps.pool, params.id);
        if (!tokens) throw notFound(`No user ${params.id}`);
        return { body: { tokens } };
      },
    }),
    setDisabled(true),
    setDisabled(false),
  ];
}
