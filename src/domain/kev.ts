/** The CISA Known Exploited Vulnerabilities catalog. */
import { z } from 'zod';

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');

export const KevEntry = z.looseObject({
  cveID: z.string().regex(/^CVE-\d{4}-\d{4,}$/),
  vendorProject: z.string().optional(),
  product: z.string().optional(),
  vulnerabilityName: z.string().optional(),
  dateAdded: isoDate,
  shortDescription: z.string().optional(),
  requiredAction: z.string().optional(),
  dueDate: isoDate.optional(),
  knownRansomwareCampaignUse: z.string().optional(),
});
export type KevEntry = z.output<typeof KevEntry>;

export const KevCatalog = z.looseObject({
  title: z.string().optional(),
  catalogVersion: z.string().min(1),
  dateReleased: z.string().optional(),
  count: z.number().int().optional(),
  vulnerabilities: z.array(KevEntry),
});
export type KevCatalog = z.output<typeof KevCatalog>;
