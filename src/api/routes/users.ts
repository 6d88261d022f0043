import { createUser, DuplicateUserError } from '../../db/users';
import type { ApiDeps } from '../deps';
import { conflict } from '../errors';
import { defineRoute, type RouteSpec } from '../route';
import { CreatedUser, CreateUserRequest } from '../schemas';

export function userRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    defineRoute({
      method: 'post',
      path: '/v1/users',
      summary: 'Create a user and issue their bearer token (shown once, stored hashed)',
      access: ['admin'],
      body: CreateUserRequest,
      responses: { 201: { description: 'created', schema: CreatedUser }, 409: { description: 'name taken' } },
      handler: async ({ body, user }) => {
        try {
          const created = await createUser(deps.pool, { ...body, createdBy: user.name });
          deps.logger.info({ user: created.name, roles: created.roles, by: user.name }, 'user created');
          return { status: 201, body: created };
        } catch (err) {
          if (err instanceof DuplicateUserError) throw conflict(err.message);
          throw err;
        }
      },
    }),
  ];
}
