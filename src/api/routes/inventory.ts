import { z } from 'zod';
import { AssetSchema, CRITICALITIES, EXPOSURES } from '../../domain/asset';
import { assetsFromCsv, CSV_QUOTE_CHARS, CsvError, excerpt } from '../../domain/asset-csv';
import { ENVIRONMENTS } from '../../domain/patch';
import { getAsset, listAssets, upsertAssets } from '../../db/assets';
import type { ApiDeps } from '../deps';
import { badRequest, notFound } from '../errors';
import { defineRoute, type RouteSpec } from '../route';
import { BULK_REQUEST_MS } from '../deadlines';

const AssetsBody = z.strictObject({
  assets: z
    .array(AssetSchema)
    .min(1)
    .max(100_000)
    .superRefine((assets, ctx) => {
      const seen = new Set<string>();
      assets.forEach((asset, i) => {
        if (seen.has(asset.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `asset ${asset.id} appears more than once` });
        seen.add(asset.id);
      });
    }),
});

const AssetQuery = z.strictObject({
  environment: z.enum(ENVIRONMENTS).optional(),
  role: z.string().optional(),
  redundancyGroup: z.string().optional(),
  criticality: z.enum(CRITICALITIES).optional(),
  exposure: z.enum(EXPOSURES).optional(),
  os: z
    .string()
    .regex(/^[a-z]+(:[\w.]+)?$/i, 'an OS name, optionally with its version: ubuntu or ubuntu:22.04')
    .optional(),
  hasPackage: z.string().min(1).optional().describe('a binary or source package name'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

export function inventoryRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    defineRoute({
      method: 'put',
      path: '/v1/assets',
      summary: 'Insert or replace assets with their installed packages (JSON, or CSV as documented in docs/http-api.md, "Assets")',
      access: ['operator'],
      body: AssetsBody,
      bodyLimit: '200mb',
      timeoutMs: BULK_REQUEST_MS,
      csv: (text) => {
        try {
          return assetsFromCsv(text);
        } catch (err) {
          // each message quotes at most a few hundred characters of the line; this bounds the whole
          if (err instanceof CsvError) throw badRequest(excerpt(err.message, 4 * CSV_QUOTE_CHARS));
          throw err;
        }
      },
      responses: { 200: { description: 'written', schema: z.object({ upserted: z.number().int() }) } },
      handler: async ({ body, user }) => {
        const upserted = await upsertAssets(deps.pool, body.assets);
        deps.logger.info({ upserted, by: user.name }, 'assets upserted');
        return { body: { upserted } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/assets',
      summary: 'Assets, filtered and paginated',
      access: 'authenticated',
      query: AssetQuery,
      responses: { 200: { description: 'a page of assets' } },
      handler: async ({ query }) => {
        const page = await listAssets(deps.pool, query);
        return { body: { total: page.total, limit: query.limit, offset: query.offset, assets: page.assets } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/assets/:id',
      summary: 'One asset with its installed packages',
      access: 'authenticated',
      params: z.object({ id: z.string().min(1).max(128) }),
      responses: { 200: { description: 'the asset' }, 404: { description: 'no such asset' } },
      handler: async ({ params }) => {
        const asset = await getAsset(deps.pool, params.id);
        if (!asset) throw notFound(`No asset ${params.id}`);
        return { body: asset };
      },
    }),
  ];
}
