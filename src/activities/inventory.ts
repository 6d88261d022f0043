/** Inventory activities of the shared task queue: what host agents report becomes the asset's inventory. */
import { ApplicationFailure } from '@temporalio/activity';
import { z } from 'zod';
import { getAsset, upsertAssets } from '../db/assets';
import { AssetSchema, InstalledPackage } from '../domain/asset';
import type { ActivityDeps } from '.';

const Reported = z.array(InstalledPackage).max(20_000);

export function createInventoryActivities({ pool }: ActivityDeps) {
  return {
    /**
     * Makes a host agent's report the asset's OS packages, as a rescan would. Packages of a
     * language ecosystem (Maven, npm, …) come from other scanners and stay.
     */
    async replaceAssetPackages(input: { assetId: string; packages: InstalledPackage[] }): Promise<{ assetId: string; packages: number }> {
      const reported = Reported.safeParse(input.packages);
      if (!reported.success)
        throw ApplicationFailure.nonRetryable(`inventory of ${input.assetId}: ${reported.error.issues[0]?.message}`, 'InvalidInput');
      const asset = await getAsset(pool, input.assetId);
      if (!asset) throw ApplicationFailure.nonRetryable(`no asset ${input.assetId} in the inventory`, 'UnknownAsset');
      await upsertAssets(pool, [
        AssetSchema.parse({
          id: asset.id,
          hostname: asset.hostname,
          environment: asset.environment,
          os: asset.os,
          criticality: asset.criticality,
          exposure: asset.exposure,
          role: asset.role ?? undefined,
          redundancyGroup: asset.redundancyGroup ?? undefined,
          owner: asset.owner ?? undefined,
          timezone: asset.timezone,
          maintenanceWindows: asset.maintenanceWindows,
          compensatingControls: asset.compensatingControls,
          connector: asset.connector,
          simulation: asset.simulation ?? undefined,
          packages: [...reported.data, ...asset.packages.filter((p) => p.ecosystem)],
        }),
      ]);
      return { assetId: asset.id, packages: reported.data.length };
    },
  };
}
