import { PolicySchema } from '../../domain/policy';
import { currentPolicy, savePolicy } from '../../db/policy';
import type { ApiDeps } from '../deps';
import { defineRoute, type RouteSpec } from '../route';

export function policyRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/policy',
      summary: 'The current priority and deadline policy, with its version',
      access: ['admin', 'auditor'],
      responses: { 200: { description: 'the policy' } },
      handler: async () => ({ body: await currentPolicy(deps.pool) }),
    }),
    defineRoute({
      method: 'put',
      path: '/v1/policy',
      summary: 'Replace the policy (a new version; earlier ones are kept)',
      access: ['admin'],
      body: PolicySchema,
      responses: { 200: { description: 'the new version' } },
      handler: async ({ body, user }) => {
        const saved = await savePolicy(deps.pool, body, user.name);
        deps.logger.info({ version: saved.version, by: user.name }, 'policy changed');
        return { body: saved };
      },
    }),
  ];
}
