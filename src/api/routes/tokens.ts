import { findToken, revokeToken } from '../../db/users';
import type { ApiDeps } from '../deps';
import { defineRoute, type RouteSpec } from '../route';
import { TokenIdParam, TokenInfo } from '../schemas';
import { refusal } from './users';

export function tokenRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/tokens/current',
      summary: 'The token this request was made with, and its user (metadata only)',
      access: 'authenticated',
      responses: { 200: { description: 'the token', schema: TokenInfo } },
      handler: async ({ user }) => {
        // the token was found a moment ago by the authentication; it cannot have been deleted since
        const token = await findToken(deps.pool, user.tokenId!);
        return { body: token };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/tokens/:id',
      summary: 'Revoke a token: it stops working at once (an admin: any token; anyone else: their own). Revoking it again changes nothing',
      access: 'authenticated',
      params: TokenIdParam,
      responses: {
        200: { description: 'the revoked token', schema: TokenInfo },
        403: { description: "another user's token, and you are not an admin" },
        404: { description: 'no such token' },
        409: { description: 'the last working token of the last enabled admin' },
      },
      handler: async ({ params, user }) => {
        try {
          const revoked = await revokeToken(deps.pool, params.id, user);
          deps.logger.info({ tokenId: revoked.id, user: revoked.userName, by: user.name }, 'token revoked');
          return { body: revoked };
        } catch (err) {
          throw refusal(err);
        }
      },
    }),
  ];
}
