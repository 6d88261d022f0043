import { internalWebhooks } from '../../domain/internal-address';
import { PolicySchema } from '../../domain/policy';
import { currentPolicy, savePolicy } from '../../db/policy';
import type { ApiDeps } from '../deps';
import { defineRoute, type RouteSpec } from '../route';

/**
 * A new policy is refused (400) when a webhook's host is internal on its face (an IP literal in a
 * loopback, private, link-local, ... range, or `localhost`) and not in `allowedInternalHosts`.
 * Only here, not in PolicySchema itself: a version stored before this rule must still parse, and
 * delivery refuses such a webhook anyway (src/services/notifications.ts).
 */
const PolicyUpdate = PolicySchema.superRefine((policy, ctx) => {
  for (const { index, message } of internalWebhooks(policy.notifications)) {
    ctx.addIssue({ code: 'custom', path: ['notifications', 'webhooks', index, 'url'], message });
  }
});

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
      body: PolicyUpdate,
      responses: { 200: { description: 'the new version' }, 400: { description: 'invalid, or a webhook to an internal address' } },
      handler: async ({ body, user }) => {
        const saved = await savePolicy(deps.pool, body, user.name);
        deps.logger.info({ version: saved.version, by: user.name }, 'policy changed');
        return { body: saved };
      },
    }),
  ];
}
