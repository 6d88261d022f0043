/**
 * What deployment did, read back: a patch's hosts, its postmortem and compliance report, and
 * compliance across patches. The deployment tables answer; the workflow's status query adds the
 * phases, decisions and feedback to the report.
 */
import { z } from 'zod';
import { complianceView, ComplianceView } from '../../domain/compliance';
import type { PatchStatus } from '../../domain/patch-status';
import { workflowIdFor } from '../../domain/patch';
import { buildReport, PatchReport, renderCsv, renderMarkdown } from '../../domain/report';
import { complianceFacts, getDeployment, listHosts, reportRecords } from '../../db/deployment-views';
import { statusQuery } from '../../workflows/definitions';
import type { ApiDeps } from '../deps';
import { conflict, isWorkflowNotFound, notFound } from '../errors';
import { ComplianceQuery, HostsPage, HostsQuery, ReportQuery } from '../deployment-schemas';
import { defineRoute, type Reply, type RouteSpec } from '../route';
import { PatchIdParam } from '../schemas';

export function deploymentRoutes(deps: ApiDeps): RouteSpec[] {
  const handle = (patchId: string) => deps.temporal.workflow.getHandle(workflowIdFor(patchId));

  /** The workflow's status; null when there is no such workflow (never started, or past retention). */
  async function workflowStatus(patchId: string): Promise<PatchStatus | null> {
    try {
      return await handle(patchId).query(statusQuery);
    } catch (err) {
      if (isWorkflowNotFound(err)) return null;
      throw err;
    }
  }

  async function workflowExists(patchId: string): Promise<boolean> {
    try {
      await handle(patchId).describe();
      return true;
    } catch (err) {
      if (isWorkflowNotFound(err)) return false;
      throw err;
    }
  }

  return [
    defineRoute({
      method: 'get',
      path: '/v1/patches/:id/hosts',
      summary: "A patch's hosts with their deployment records, in rollout order; filters status, ring, wave",
      access: 'authenticated',
      params: PatchIdParam,
      query: HostsQuery,
      responses: {
        200: {
          description: 'a page of hosts (none before deployment starts), the number matching, the counts by status',
          schema: HostsPage,
        },
        404: { description: 'no such patch' },
      },
      handler: async ({ params, query }) => {
        const { limit, offset, status, ring, wave, steps } = query;
        if (!(await getDeployment(deps.pool, params.id)) && !(await workflowExists(params.id))) throw notFound(`No patch ${params.id}`);
        const found = await listHosts(deps.pool, params.id, { statuses: status, ring, wave, limit, offset, steps });
        return { body: { hosts: found.hosts, total: found.total, limit, offset, counts: found.counts } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/patches/:id/report',
      summary: "A patch's postmortem and compliance report: JSON, Markdown (format=md) or CSV with one row per host (format=csv)",
      access: 'authenticated',
      params: PatchIdParam,
      query: ReportQuery,
      responses: {
        200: {
          description: 'the report as of now (final once the patch has an outcome); text/markdown or text/csv by format',
          schema: PatchReport,
          media: { 'text/markdown': z.string(), 'text/csv': z.string().describe('RFC 4180, one row per host') },
        },
        404: { description: 'no such patch' },
        409: { description: 'the patch has not reached deployment (lab test) yet' },
      },
      handler: async ({ params, query }): Promise<Reply> => {
        const [status, records] = await Promise.all([workflowStatus(params.id), reportRecords(deps.pool, params.id)]);
        if (!records) {
          if (!status) throw notFound(`No patch ${params.id}`);
          const where = status.outcome ? `closed as ${status.outcome} in ${status.phase}` : `in ${status.phase}`;
          throw conflict(`Patch ${params.id} has not reached deployment (${where}); its report starts with the lab test`, {
            phase: status.phase,
            state: status.state,
            outcome: status.outcome,
          });
        }
        const input = { ...records, status };
        const now = new Date();
        switch (query.format) {
          case 'md':
            return { body: renderMarkdown(buildReport(input, now)), headers: { 'Content-Type': 'text/markdown; charset=utf-8' } };
          case 'csv':
            return {
              body: renderCsv(input, now),
              headers: {
                'Content-Type': 'text/csv; charset=utf-8',
                'Content-Disposition': `attachment; filename="patch-${params.id}-hosts.csv"`,
              },
            };
          default:
            return { body: buildReport(input, now) };
        }
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/compliance',
      summary: 'Compliance of every deployed patch by asset, patch and priority, with the SLA status of each host',
      access: 'authenticated',
      query: ComplianceQuery,
      responses: { 200: { description: 'one page of assets; the summaries cover every match', schema: ComplianceView } },
      handler: async ({ query }) => {
        const { asset, patch, priority, sla, limit, offset } = query;
        const rows = await complianceFacts(deps.pool, { assetId: asset, patchId: patch, priority });
        const view: z.output<typeof ComplianceView> = complianceView(rows, new Date(), { sla, page: { limit, offset } });
        return { body: view };
      },
    }),
  ];
}
