import { z } from 'zod';
import { CveRecord } from '../../domain/cve';
import { KevCatalog } from '../../domain/kev';
import { OsvRecord } from '../../domain/osv';
import { importCves, importKev, importOsv } from '../../db/feeds';
import { findAffected, UnknownAdvisoriesError } from '../../services/assessment';
import type { ApiDeps } from '../deps';
import { notFound } from '../errors';
import { defineRoute, type RouteSpec } from '../route';
import { BULK_REQUEST_MS } from '../deadlines';

const ImportResult = z.object({ imported: z.number().int(), updated: z.number().int(), skipped: z.number().int() });

/** One record or an array of them; always handled as an array. */
const oneOrMany = <T extends z.ZodType>(record: T) =>
  z.preprocess((value: unknown): unknown[] => (Array.isArray(value) ? (value as unknown[]) : [value]), z.array(record).min(1).max(50_000));

export function feedRoutes(deps: ApiDeps): RouteSpec[] {
  const affectedOr404 = (id: string) =>
    findAffected(deps.pool, [id]).catch((err) => {
      if (err instanceof UnknownAdvisoriesError) throw notFound(`No advisory ${id}`);
      throw err;
    });

  return [
    defineRoute({
      method: 'post',
      path: '/v1/feeds/osv',
      summary: 'Import OSV records (one or an array); newer `modified` replaces older',
      access: ['operator'],
      body: oneOrMany(OsvRecord),
      bodyLimit: '100mb',
      timeoutMs: BULK_REQUEST_MS,
      responses: { 200: { description: 'what changed', schema: ImportResult } },
      handler: async ({ body }) => ({ body: await importOsv(deps.pool, body) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/feeds/cve',
      summary: 'Import CVE JSON 5 records (one or an array); newer `dateUpdated` replaces older',
      access: ['operator'],
      body: oneOrMany(CveRecord),
      bodyLimit: '100mb',
      timeoutMs: BULK_REQUEST_MS,
      responses: { 200: { description: 'what changed', schema: ImportResult } },
      handler: async ({ body }) => ({ body: await importCves(deps.pool, body) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/feeds/kev',
      summary: 'Import the CISA KEV catalog',
      access: ['operator'],
      body: KevCatalog,
      bodyLimit: '100mb',
      timeoutMs: BULK_REQUEST_MS,
      responses: { 200: { description: 'what changed', schema: ImportResult } },
      handler: async ({ body }) => ({ body: await importKev(deps.pool, body) }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/advisories/:id',
      summary: 'An advisory with its CVEs, CVSS, KEV entries and affected packages',
      access: 'authenticated',
      params: z.object({ id: z.string().min(1).max(200) }),
      responses: { 200: { description: 'the advisory' }, 404: { description: 'unknown advisory' } },
      handler: async ({ params }) => {
        const found = await affectedOr404(params.id);
        const { record, ...advisory } = found.advisories[0]!;
        return {
          body: { ...advisory, details: record.details ?? null, affectedAssets: new Set(found.affected.map((a) => a.asset.id)).size },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/advisories/:id/affected-assets',
      summary: 'The assets an advisory applies to, with installed and fixed version',
      access: 'authenticated',
      params: z.object({ id: z.string().min(1).max(200) }),
      responses: { 200: { description: 'affected assets' }, 404: { description: 'unknown advisory' } },
      handler: async ({ params }) => {
        const found = await affectedOr404(params.id);
        return {
          body: found.affected.map((a) => ({
            assetId: a.asset.id,
            environment: a.asset.environment,
            package: a.package,
            installedVersion: a.installedVersion,
            fixedVersion: a.fixedVersion,
          })),
        };
      },
    }),
  ];
}
